"""What engines are asked for, as plain values.

The typed ``engine`` config (``serve_app.config.EngineConfig``) validates these and
hands them over with the deployment's batch limit; engines themselves never import
pydantic, so the model replica's path also runs where only torch is installed
(``bench/gpu_check.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Backend = Literal["auto", "tensorrt", "torch", "onnxruntime"]
DeviceKind = Literal["auto", "cpu", "cuda"]
Precision = Literal["fp32", "fp16"]


@dataclass(frozen=True)
class EngineOptions:
    backend: Backend = "auto"
    """``auto``: the best the replica's device has (TensorRT, else torch, on CUDA;
    ONNX Runtime on CPU)."""
    device: DeviceKind = "auto"
    precision: Precision = "fp16"
    """FP16 where the device runs it fast (CUDA); CPUs always run FP32."""
    max_batch_size: int = 8
    """Largest batch an engine is built and profiled for."""
    num_threads: int = 0
    """CPU intra-op threads; 0 lets the runtime choose."""
    lone_threads: int = 0
    """CPU intra-op threads of a pass that runs alone (ONNX Runtime); 0: as any other."""
    cuda_graphs: bool = True
    channels_last: bool = True
    workspace_mb: int = 4096
    """TensorRT builder workspace limit."""
    timing_cache: bool = True
    """Keep TensorRT's timing cache beside the engine cache, for later builds."""
