"""Model packages: where weights come from and the on-disk cache in front of them."""

from serve_app.weights.package import ModelPackage
from serve_app.weights.store import ModelStore

__all__ = ["ModelPackage", "ModelStore"]
