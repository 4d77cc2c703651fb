"""Model packages engine tests run: the bundled ones, read in place."""

from __future__ import annotations

from serve_app.core.ids import ModelId
from serve_app.weights.local import BUNDLED_MODELS_DIR
from serve_app.weights.package import ModelPackage

BUNDLED = ("shapes-detection/1", "shapes-segmentation/1", "shapes-classification/1")


def bundled_package(model_id: str) -> ModelPackage:
    mid = ModelId.parse(model_id)
    return ModelPackage.load(mid, BUNDLED_MODELS_DIR / mid.relative_path)
