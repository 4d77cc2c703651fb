"""Engines for a model: the one it starts on, and the optimised one to build.

A model starts on an engine ready in a second or two: ONNX Runtime, or the network
converted to torch (:func:`start_engine`); where the backend has a slower optimised
form, its build is described too (``engines/builds.py``) and the model replica runs
it in the background. :class:`OnnxEngineFactory` is what a model replica is given to
make both: a picklable value, so a test hands the replica a fake one instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from serve_app.core.engines import EngineOptions
from serve_app.core.spec import ModelPackage
from serve_app.engines.base import DeviceEngine, Engine
from serve_app.engines.builds import EngineBuild, optimised_build
from serve_app.engines.selection import Selection, select_engine

if TYPE_CHECKING:
    from serve_app.engines.store import EngineStore

logger = logging.getLogger("ray.serve")


@dataclass(frozen=True)
class ModelEngines:
    """What a model is served with: the engine it starts on, the optimised one to build
    behind it, and why the configured backend is not the one serving."""

    live: Engine
    build: EngineBuild | None = None
    fallback: str | None = None


class EngineFactory(Protocol):
    """Makes a model's engines from its package; a model replica's seam for them."""

    def __call__(self, package: ModelPackage, store: EngineStore | None) -> ModelEngines: ...


@dataclass(frozen=True)
class OnnxEngineFactory:
    """Engines of a package's ONNX network, as the ``engine`` config asks, built for
    forward passes of up to ``max_batch_size`` images."""

    options: EngineOptions
    max_batch_size: int

    def __call__(self, package: ModelPackage, store: EngineStore | None = None) -> ModelEngines:
        selection = select_engine(self.options)
        engine, fallback = start_engine(self.options, package, selection)
        # A network torch could not convert (served by ONNX Runtime) has no traced form;
        # TensorRT parses the ONNX itself, so it builds either way.
        if selection.backend == "torch" and not isinstance(engine, DeviceEngine):
            return ModelEngines(engine, None, fallback)
        build = optimised_build(
            self.options, package, selection, max_batch_size=self.max_batch_size, store=store
        )
        return ModelEngines(engine, build, fallback)


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
    from serve_app.engines.torch_engine import TorchEngine, torch_setup

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
        lone_threads=lone_threads(options),
    )


def lone_threads(options: EngineOptions) -> int:
    """The threads of a lone pass, ``"all"`` being every core this process may run on
    (the replica's node, or its container's share); 0 where the builder chose none."""
    if options.lone_threads == "all":
        return len(os.sched_getaffinity(0))
    return options.lone_threads or 0
