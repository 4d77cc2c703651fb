"""One on-disk cache in front of every weight source.

``MODEL_CACHE_DIR/{dataset}/{version}/`` holds complete packages only: a package is
assembled in a temporary folder beside it and renamed into place, so a reader never
sees a half-written model. A lock file per model, shared between processes, makes
concurrent first requests download once.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from filelock import FileLock

from serve_app.config import ServerSettings
from serve_app.errors import ModelNotFoundError
from serve_app.weights.base import WeightSource
from serve_app.weights.local import BUNDLED_MODELS_DIR, LocalDirectorySource
from serve_app.weights.package import ENVIRONMENT_FILE, WEIGHTS_FILE, ModelId, ModelPackage


def build_sources(settings: ServerSettings) -> list[WeightSource]:
    """The configured sources, in the configured order."""
    sources: list[WeightSource] = []
    for name in settings.weight_sources:
        if name == "local":
            if settings.local_models_dir is not None:
                sources.append(LocalDirectorySource(settings.local_models_dir))
            sources.append(LocalDirectorySource(BUNDLED_MODELS_DIR))
    return sources


class ModelStore:
    def __init__(self, cache_dir: Path, sources: list[WeightSource]) -> None:
        self._cache_dir = cache_dir
        self._sources = sources
        self._packages: dict[ModelId, ModelPackage] = {}
        self._guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ModelStore:
        return cls(settings.model_cache_dir, build_sources(settings))

    def package(self, model_id: str, api_key: str | None = None) -> ModelPackage:
        """The package's metadata, fetching the package into the cache on first use."""
        mid = ModelId.parse(model_id)
        with self._guard:
            cached = self._packages.get(mid)
        if cached is not None:
            return cached
        package = ModelPackage.load(mid, self.ensure_cached(mid, api_key))
        with self._guard:
            self._packages[mid] = package
        return package

    def forget(self, model_id: str) -> None:
        with self._guard:
            self._packages.pop(ModelId.parse(model_id), None)

    def ensure_cached(self, model_id: ModelId, api_key: str | None) -> Path:
        target = self._cache_dir / model_id.relative_path
        if _is_complete(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if _is_complete(target):  # another process finished while we waited
                return target
            for source in self._sources:
                staging = Path(tempfile.mkdtemp(prefix=f".{model_id.version}.", dir=target.parent))
                try:
                    if source.fetch(model_id, staging, api_key):
                        if target.exists():
                            shutil.rmtree(target)
                        staging.rename(target)
                        return target
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
        raise ModelNotFoundError(f"Model {model_id} was not found in any weight source")


def _is_complete(folder: Path) -> bool:
    return (folder / WEIGHTS_FILE).is_file() and (folder / ENVIRONMENT_FILE).is_file()
