"""Which engine a replica runs, decided from what its device and install offer.

Nothing here imports torch or TensorRT unless the answer depends on them: a CPU
install (no torch), or a machine without NVIDIA device files, is settled without
loading either, so CPU replicas keep their memory and start-up time.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from serve_app.core.engines import EngineOptions

logger = logging.getLogger("ray.serve")

ResolvedBackend = Literal["tensorrt", "torch", "onnxruntime"]
Device = Literal["cpu", "cuda"]

_NVIDIA_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/nvhost-ctrl-gpu")


@dataclass(frozen=True)
class Selection:
    """The backend and device a model runs on, and why, where it is not what was asked."""

    backend: ResolvedBackend
    device: Device
    fallback: str | None = None
    """Why the configured backend or device could not be had."""


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def cuda_usable() -> bool:
    """A CUDA device torch can use; False without importing torch where none can be."""
    if not installed("torch") or not any(Path(p).exists() for p in _NVIDIA_DEVICE_FILES):
        return False
    import torch

    return bool(torch.cuda.is_available())


def select_engine(
    options: EngineOptions,
    *,
    has_cuda: bool | None = None,
    has_torch: bool | None = None,
    has_tensorrt: bool | None = None,
) -> Selection:
    """Resolve ``auto`` and fall back where a backend is missing.

    The ``has_*`` arguments default to probing this process; tests pass them to
    check every combination on any machine.
    """
    torch_ok = installed("torch") and installed("onnx2torch") if has_torch is None else has_torch
    cuda = (cuda_usable() if has_cuda is None else has_cuda) and torch_ok
    trt_ok = installed("tensorrt") if has_tensorrt is None else has_tensorrt
    reasons: list[str] = []
    if options.device == "cuda" and not cuda:
        reasons.append("no usable CUDA device (or no torch), so the CPU")
    device: Device = "cuda" if cuda and options.device != "cpu" else "cpu"

    wanted = options.backend
    if wanted == "auto":
        wanted = ("tensorrt" if trt_ok else "torch") if device == "cuda" else "onnxruntime"
    if wanted == "tensorrt" and (device != "cuda" or not trt_ok):
        why = "TensorRT is not installed" if device == "cuda" else "TensorRT needs CUDA"
        reasons.append(f"{why}, so torch")
        wanted = "torch"
    if wanted == "torch" and not torch_ok:
        reasons.append("torch and onnx2torch are not installed, so ONNX Runtime")
        wanted = "onnxruntime"
    return Selection(wanted, device, "; ".join(reasons) or None)
