"""Model packages engine tests run: the bundled ones, read in place."""

from __future__ import annotations

from serve_app.core.engines import EngineOptions
from serve_app.core.ids import ModelId
from serve_app.core.spec import ModelPackage
from serve_app.engines.base import Engine
from serve_app.engines.builds import optimised_build
from serve_app.engines.selection import Selection
from serve_app.weights.config import BUNDLED_MODELS_DIR
from serve_app.weights.package import read_package

BUNDLED = ("shapes-detection/1", "shapes-segmentation/1", "shapes-classification/1")


def bundled_package(model_id: str) -> ModelPackage:
    mid = ModelId.parse(model_id)
    return read_package(mid, BUNDLED_MODELS_DIR / mid.relative_path)


def built_engine(
    options: EngineOptions, package: ModelPackage, selection: Selection, max_batch_size: int
) -> Engine:
    """The optimised engine of ``package``, built here and now, without a cache."""
    build = optimised_build(options, package, selection, max_batch_size=max_batch_size)
    assert build is not None
    engine, _ = build.run(None, lambda state, progress: None)
    return engine
