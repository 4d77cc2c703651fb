"""Model packages: where weights come from and the on-disk cache in front of them.

Names resolve on first use, so ``serve_app.weights.package`` imports without the
remote sources (boto3) or the settings (pydantic): ``bench/gpu_check.py`` runs the
model replica's path where neither is installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serve_app.weights.package import ModelPackage
    from serve_app.weights.store import ModelStore

_EXPORTS = {"ModelPackage": "serve_app.weights.package", "ModelStore": "serve_app.weights.store"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


__all__ = ["ModelPackage", "ModelStore"]
