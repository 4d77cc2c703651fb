"""Engines run a network on a device; pick one by the configured backend."""

from __future__ import annotations

from serve_app.config import EngineConfig
from serve_app.engines.base import Engine
from serve_app.weights.package import ModelPackage


def create_engine(config: EngineConfig, package: ModelPackage) -> Engine:
    # Backends import lazily, so an install without a GPU never needs its libraries.
    from serve_app.engines.onnxruntime import OnnxRuntimeEngine

    spec = package.spec
    return OnnxRuntimeEngine(
        package.weights_path, spec.batch_size, config.num_threads, spec.normalization
    )


__all__ = ["Engine", "create_engine"]
