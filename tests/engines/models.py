"""Model packages engine tests run: the bundled ones, read in place."""

from __future__ import annotations

from serve_app.core.ids import ModelId
from serve_app.engines import Engine, EngineOptions
from serve_app.engines.factory import optimised_build
from serve_app.engines.selection import Selection
from serve_app.weights.local import BUNDLED_MODELS_DIR
from serve_app.weights.package import ModelPackage

BUNDLED = ("shapes-detection/1", "shapes-segmentation/1", "shapes-classification/1")


def bundled_package(model_id: str) -> ModelPackage:
    mid = ModelId.parse(model_id)
    return ModelPackage.load(mid, BUNDLED_MODELS_DIR / mid.relative_path)


def built_engine(options: EngineOptions, package: ModelPackage, selection: Selection) -> Engine:
    """The optimised engine of ``package``, built here and now, without a cache."""
    build = optimised_build(options, package, selection)
    assert build is not None
    engine, _ = build.run(None, lambda state, progress: None)
    return engine
