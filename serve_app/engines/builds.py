"""Optimised engines, built in the background to replace the engine a model starts on.

:func:`optimised_build` describes the slow build where the backend has one (TensorRT's
plan, torch's traced programs); the model replica runs it in the background
(``replica/engine_switch.py``) and the engine store keeps and shares its result
(``engines/store.py``), under a key naming everything the build depends on.
"""

from __future__ import annotations

import hashlib
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from serve_app.core.engines import (
    BuildState,
    DeviceIdentity,
    EngineKey,
    EngineOptions,
    EngineOrigin,
)
from serve_app.core.spec import ModelPackage
from serve_app.engines.base import Engine
from serve_app.engines.buckets import batch_buckets
from serve_app.engines.selection import Selection

if TYPE_CHECKING:
    from serve_app.engines.store import EngineStore

Report = Callable[[BuildState, float], None]
"""Told a build's state (waiting, fetching, building, loading) and its progress in
[0, 1]."""


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

        def build(folder: Path) -> None:
            self.build(folder, lambda share: report(BuildState.BUILDING, share))

        if store is None:
            with tempfile.TemporaryDirectory(prefix="rfserve-engine-") as folder:
                report(BuildState.BUILDING, 0.0)
                build(Path(folder))
                report(BuildState.LOADING, 1.0)
                return self.load(Path(folder)), EngineOrigin.BUILT
        stored = store.get_or_build(
            self.package.spec.model_id, self.key, build, lambda state: report(state, 0.0)
        )
        report(BuildState.LOADING, 1.0)
        return self.load(stored.folder), stored.origin


def optimised_build(
    options: EngineOptions,
    package: ModelPackage,
    selection: Selection,
    *,
    max_batch_size: int,
    store: EngineStore | None = None,
) -> EngineBuild | None:
    """The build that replaces the engine a model starts on, for forward passes of up
    to ``max_batch_size`` images; None where the backend has none."""
    if selection.backend == "torch":
        return _torch_trace_build(options, package, selection, max_batch_size)
    if selection.backend == "tensorrt":
        return _tensorrt_build(options, package, selection, max_batch_size, store)
    return None


def device_identity(selection: Selection) -> DeviceIdentity:
    if selection.device == "cpu":
        return DeviceIdentity(f"cpu-{platform.machine()}", None)
    import torch

    major, minor = torch.cuda.get_device_capability()
    return DeviceIdentity(torch.cuda.get_device_name(), f"{major}.{minor}")


def _torch_trace_build(
    options: EngineOptions, package: ModelPackage, selection: Selection, max_batch_size: int
) -> EngineBuild:
    from importlib.metadata import version

    import torch

    from serve_app.engines import torch_trace
    from serve_app.engines.onnx_to_torch import convert_onnx
    from serve_app.engines.torch_engine import torch_setup

    spec = package.spec
    setup = torch_setup(options, spec, selection, built=True)
    buckets = batch_buckets(max_batch_size, spec.batch_size)
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
    options: EngineOptions,
    package: ModelPackage,
    selection: Selection,
    max_batch_size: int,
    store: EngineStore | None,
) -> EngineBuild:
    from serve_app.engines import tensorrt
    from serve_app.engines.torch_engine import torch_setup

    spec = package.spec
    setup = torch_setup(options, spec, selection, built=True)
    profile = tensorrt.batch_profile(spec.batch_size, max_batch_size)
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


def file_sha256(path: Path) -> str:
    """The network's part of an engine key."""
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key: a replaced file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
