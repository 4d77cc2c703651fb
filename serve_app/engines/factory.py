"""Engines for a model: one that serves at once, and the optimised one to build.

:func:`create_engine` answers an engine ready in a second or two: ONNX Runtime, or
the network converted to torch. :func:`optimised_build` describes the slow build
that replaces it where the backend has one (TensorRT's plan, torch's traced
programs); the model replica runs it in the background (``replica/engine_switch.py``)
and the engine store keeps and shares its result.
"""

from __future__ import annotations

import logging
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from serve_app.core.spec import ModelSpec
from serve_app.engines.base import Engine
from serve_app.engines.buckets import batch_buckets
from serve_app.engines.keys import DeviceIdentity, EngineKey, file_sha256
from serve_app.engines.options import EngineOptions
from serve_app.engines.selection import Selection, select_engine
from serve_app.weights.package import ModelPackage

if TYPE_CHECKING:
    from serve_app.engines.torch_engine import TorchSetup
    from serve_app.weights.engine_store import EngineOrigin, EngineStore

logger = logging.getLogger("ray.serve")

Report = Callable[[str, float], None]
"""Told a build's state (``"waiting"``, ``"fetching"``, ``"building"``, ``"loading"``)
and its progress in [0, 1]."""


def create_engine(
    options: EngineOptions, package: ModelPackage, selection: Selection | None = None
) -> Engine:
    """An engine that serves ``package`` now."""
    return start_engine(options, package, selection or select_engine(options))[0]


def start_engine(
    options: EngineOptions, package: ModelPackage, selection: Selection
) -> tuple[Engine, str | None]:
    """The engine ``package`` starts on, and why it is not the one asked for (None when
    it is): a torch engine that cannot be made, whatever the reason, is replaced by
    ONNX Runtime rather than failing the model."""
    spec = package.spec
    if selection.backend != "onnxruntime":
        try:
            return _converted_engine(options, package, selection), selection.fallback
        except Exception as exc:  # any failure: a model that ONNX Runtime runs still serves
            reason = f"the torch engine could not be made ({type(exc).__name__}: {exc})"
            logger.warning("Model %s runs on ONNX Runtime: %s", spec.model_id, reason)
            fallback = "; ".join(filter(None, [selection.fallback, f"{reason}, so ONNX Runtime"]))
            return _onnx_runtime_engine(options, package, selection), fallback
    return _onnx_runtime_engine(options, package, selection), selection.fallback


def _converted_engine(
    options: EngineOptions, package: ModelPackage, selection: Selection
) -> Engine:
    """The network converted to torch, checked to run on a batch of its input size."""
    import torch

    from serve_app.engines.onnx_to_torch import convert_onnx
    from serve_app.engines.torch_engine import TorchEngine

    spec = package.spec
    setup = torch_setup(options, spec, selection, built=False)
    module = convert_onnx(package.weights_path, setup)
    fixed = (spec.batch_size,) if spec.batch_size is not None else None
    engine = TorchEngine("torch", setup, module, fixed)
    # A conversion can succeed and the module still fail on its first batch.
    probe = torch.zeros((spec.batch_size or 1, 3, spec.input_height, spec.input_width))
    engine.forward(probe.to(setup.device))
    return engine


def _onnx_runtime_engine(
    options: EngineOptions, package: ModelPackage, selection: Selection
) -> Engine:
    from serve_app.engines.onnxruntime import OnnxRuntimeEngine

    spec = package.spec
    return OnnxRuntimeEngine(
        package.weights_path,
        spec.batch_size,
        options.num_threads,
        spec.normalization,
        cuda=selection.device == "cuda",
    )


@dataclass(frozen=True)
class EngineBuild:
    """An optimised engine of one model, to be built (or found built) and loaded."""

    package: ModelPackage
    key: EngineKey
    build: Callable[[Path, Callable[[float], None]], None]
    """Writes the engine's files into a folder, reporting its progress."""
    load: Callable[[Path], Engine]

    @property
    def backend(self) -> str:
        return self.key.backend

    def run(self, store: EngineStore | None, report: Report) -> tuple[Engine, EngineOrigin]:
        """Blocking: the engine from the store (disk, S3) or built, then loaded."""
        from serve_app.weights.engine_store import EngineOrigin

        def build(folder: Path) -> None:
            self.build(folder, lambda share: report("building", share))

        if store is None:
            with tempfile.TemporaryDirectory(prefix="rfserve-engine-") as folder:
                report("building", 0.0)
                build(Path(folder))
                report("loading", 1.0)
                return self.load(Path(folder)), EngineOrigin.BUILT
        stored = store.get_or_build(
            self.package.spec.model_id, self.key, build, lambda state: report(state, 0.0)
        )
        report("loading", 1.0)
        return self.load(stored.folder), stored.origin


def optimised_build(
    options: EngineOptions,
    package: ModelPackage,
    selection: Selection,
    store: EngineStore | None = None,
) -> EngineBuild | None:
    """The build that replaces :func:`create_engine`'s engine; None where there is none."""
    if selection.backend == "torch":
        return _torch_trace_build(options, package, selection)
    if selection.backend == "tensorrt":
        return _tensorrt_build(options, package, selection, store)
    return None


def torch_setup(
    options: EngineOptions, spec: ModelSpec, selection: Selection, built: bool
) -> TorchSetup:
    import torch

    from serve_app.engines.torch_engine import TorchSetup

    cuda = selection.device == "cuda"
    if not cuda and options.num_threads:
        torch.set_num_threads(options.num_threads)
    return TorchSetup(
        device=torch.device("cuda" if cuda else "cpu"),
        dtype=torch.float16 if cuda and options.precision == "fp16" else torch.float32,
        normalization=spec.normalization,
        input_size=(spec.input_height, spec.input_width),
        channels_last=cuda and options.channels_last,
        cuda_graphs=built and cuda and options.cuda_graphs,
    )


def device_identity(selection: Selection) -> DeviceIdentity:
    if selection.device == "cpu":
        return DeviceIdentity(f"cpu-{platform.machine()}", None)
    import torch

    major, minor = torch.cuda.get_device_capability()
    return DeviceIdentity(torch.cuda.get_device_name(), f"{major}.{minor}")


def _torch_trace_build(
    options: EngineOptions, package: ModelPackage, selection: Selection
) -> EngineBuild:
    from importlib.metadata import version

    import torch

    from serve_app.engines import torch_trace
    from serve_app.engines.onnx_to_torch import convert_onnx

    spec = package.spec
    setup = torch_setup(options, spec, selection, built=True)
    buckets = batch_buckets(options.max_batch_size, spec.batch_size)
    key = EngineKey(
        onnx_sha256=file_sha256(package.weights_path),
        backend=torch_trace.NAME,
        backend_version=f"torch {torch.__version__}, onnx2torch {version('onnx2torch')}",
        device=device_identity(selection),
        precision="fp16" if setup.dtype == torch.float16 else "fp32",
        batch_profile=buckets,
        variant="channels-last" if setup.channels_last else "",
    )

    def build(folder: Path, progress: Callable[[float], None]) -> None:
        module = convert_onnx(package.weights_path, setup)
        torch_trace.trace_buckets(module, setup, buckets, folder, progress)

    def load(folder: Path) -> Engine:
        engine = torch_trace.load_traced(folder, setup, buckets)
        engine.capture_graphs()
        return engine

    return EngineBuild(package, key, build, load)


def _tensorrt_build(
    options: EngineOptions, package: ModelPackage, selection: Selection, store: EngineStore | None
) -> EngineBuild:
    from serve_app.engines import tensorrt

    spec = package.spec
    setup = torch_setup(options, spec, selection, built=True)
    profile = tensorrt.batch_profile(spec.batch_size, options.max_batch_size)
    device = device_identity(selection)
    key = EngineKey(
        onnx_sha256=file_sha256(package.weights_path),
        backend=tensorrt.NAME,
        backend_version=tensorrt.tensorrt_version(),
        device=device,
        precision=options.precision,
        batch_profile=(profile.min, profile.opt, profile.max),
        variant=f"workspace {options.workspace_mb} MiB",
    )
    settings = tensorrt.BuildSettings(
        profile=profile,
        fp16=options.precision == "fp16",
        workspace_bytes=options.workspace_mb * 2**20,
        timing_cache=store.timing_cache(device) if store and options.timing_cache else None,
    )

    def build(folder: Path, progress: Callable[[float], None]) -> None:
        plan = folder / tensorrt.PLAN_FILE
        tensorrt.build_plan(package.weights_path, settings, setup.input_size, plan, progress)

    def load(folder: Path) -> Engine:
        return tensorrt.TensorRTEngine(folder / tensorrt.PLAN_FILE, setup, profile.max)

    return EngineBuild(package, key, build, load)
