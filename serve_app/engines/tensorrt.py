"""TensorRT engines (TensorRT 10 or later), built from the model's ONNX file.

The build parses the ONNX with TensorRT's own parser, gives the input one
optimisation profile from batch 1 to the deployment's ``max_batch_size`` (a network
exported with a fixed batch keeps it), enables FP16 where the GPU runs it fast,
limits the builder's workspace and reuses a timing cache kept beside the engine
cache. A serialised engine is a plan file the engine cache stores and shares.

At run time inputs and outputs are torch CUDA tensors bound by device pointer, so
the GPU data path never copies through the host. ``tensorrt`` is imported only when
an engine is built or loaded; this module imports without it.

Not run on this project's machines (none has a GPU with TensorRT): written to the
TensorRT 10 Python API, with its shape and key logic tested on CPU.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from serve_app.engines.base import DeviceEngine
from serve_app.engines.torch_engine import Normalizer, TorchSetup, run_in_chunks
from serve_app.errors import ModelLoadError

logger = logging.getLogger("ray.serve")

NAME = "tensorrt"
PLAN_FILE = "engine.plan"


@dataclass(frozen=True)
class BatchProfile:
    """TensorRT's optimisation profile on the batch axis."""

    min: int
    opt: int
    max: int

    def shapes(self, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        """(min, opt, max) NCHW shapes of the image input."""
        return tuple((batch, 3, height, width) for batch in (self.min, self.opt, self.max))


def batch_profile(fixed_batch: int | None, max_batch_size: int) -> BatchProfile:
    """From 1 to ``max_batch_size``, tuned for the largest batch (what a loaded
    server runs); a fixed batch dimension admits that size only."""
    if fixed_batch is not None:
        return BatchProfile(fixed_batch, fixed_batch, fixed_batch)
    return BatchProfile(1, max_batch_size, max_batch_size)


@dataclass(frozen=True)
class BuildSettings:
    profile: BatchProfile
    fp16: bool
    workspace_bytes: int
    timing_cache: Path | None


def tensorrt_version() -> str:
    import tensorrt as trt

    return str(trt.__version__)


def build_plan(
    weights: Path,
    settings: BuildSettings,
    input_size: tuple[int, int],
    plan: Path,
    progress: Callable[[float], None],
) -> None:
    """Build the engine of ``weights`` and write its plan to ``plan``."""
    import tensorrt as trt

    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # explicit batch: TensorRT 10's only mode
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(weights)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelLoadError(f"TensorRT cannot parse {weights.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_bytes)
    if settings.fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    image_input = network.get_input(0)
    profile.set_shape(image_input.name, *settings.profile.shapes(*input_size))
    config.add_optimization_profile(profile)
    cache = _timing_cache(config, settings.timing_cache)
    config.progress_monitor = _progress_monitor(trt, progress)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelLoadError(f"TensorRT could not build an engine for {weights.name}")
    plan.write_bytes(bytes(serialized))
    if settings.timing_cache is not None:
        # Builds of other models may write it too: replace, never write in place.
        settings.timing_cache.parent.mkdir(parents=True, exist_ok=True)
        partial = settings.timing_cache.with_name(f".{plan.parent.name}.timing")
        partial.write_bytes(bytes(cache.serialize()))
        partial.replace(settings.timing_cache)


def _timing_cache(config: Any, path: Path | None) -> Any:
    previous = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(previous)
    config.set_timing_cache(cache, ignore_mismatch=False)
    return cache


def _progress_monitor(trt: Any, progress: Callable[[float], None]) -> Any:
    """Reports the share of the builder's top-level phase steps done so far."""

    class Monitor(trt.IProgressMonitor):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._steps: dict[str, int] = {}
            self._top: str | None = None

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                self._top = phase_name
            self._steps[phase_name] = max(num_steps, 1)

        def step_complete(self, phase_name: str, step: int) -> bool:
            if phase_name == self._top:
                progress(min((step + 1) / self._steps[phase_name], 0.99))
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            self._steps.pop(phase_name, None)

    return Monitor()


class TensorRTEngine(DeviceEngine):
    """A deserialised engine with one execution context, run on torch's stream."""

    name = NAME

    def __init__(self, plan: Path, setup: TorchSetup, max_batch: int) -> None:
        import tensorrt as trt

        self.setup = setup
        self.device = str(setup.device)
        self._max_batch = max_batch
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self._engine is None:
            raise ModelLoadError(f"TensorRT could not load {plan}")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._input = inputs[0]
        self._outputs = [n for n in names if n not in inputs]
        self._input_dtype = _torch_dtype(trt, self._engine.get_tensor_dtype(self._input))
        self._lock = threading.Lock()  # one execution context
        self._normalize = Normalizer(setup.normalization, self._input_dtype, setup.device)

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self._normalize(images).contiguous()
        return run_in_chunks(self._execute, x, self._max_batch)

    def _execute(self, x: torch.Tensor) -> list[torch.Tensor]:
        import tensorrt as trt

        with self._lock:
            self._context.set_input_shape(self._input, tuple(x.shape))
            self._context.set_tensor_address(self._input, x.data_ptr())
            outputs = []
            for name in self._outputs:
                shape = tuple(self._context.get_tensor_shape(name))
                dtype = _torch_dtype(trt, self._engine.get_tensor_dtype(name))
                out = torch.empty(shape, dtype=dtype, device=x.device)
                self._context.set_tensor_address(name, out.data_ptr())
                outputs.append(out)
            stream = torch.cuda.current_stream(x.device)
            if not self._context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT failed to run the engine")
        return [o.float() for o in outputs]


def _torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.int32: torch.int32,
        trt.int64: torch.int64,
        trt.bool: torch.bool,
    }
    return table[dtype]
