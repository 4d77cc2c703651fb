"""One on-disk cache in front of every weight source.

Layout of ``MODEL_CACHE_DIR``::

    {dataset}/{version}/              complete, verified packages only
    .staging/{dataset}/{version}/     a package being fetched, under the model's lock
    .locks/{dataset}/{version}.lock   one lock per model, shared between processes
    .quarantine/{dataset}/{version}/  the last cached copy that failed to load

A package is fetched into its staging folder, each file through a temporary file
checked against the length and checksum the source announced, then verified by
loading it as the server will (the ONNX graph parsed, the metadata read), and only
then renamed into place: a reader never sees a partial or corrupt model. The dot
folders cannot collide with models, whose dataset names start with a letter or digit.

While one process fetches a model the others wait on its lock and then find it
cached, so concurrent first requests on any number of replicas sharing the folder
download once. A cached package is used without asking any source: a warm cache
serves with every source down. Local folders (``RFSERVE_LOCAL_MODELS_DIR``, the
bundled models) come first and are read in place, so they are never stale.
"""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from serve_app.core.folders import LOCKS_DIR, STAGING_DIR, fresh_folder, publish_folder
from serve_app.core.ids import ModelId
from serve_app.core.spec import ModelPackage
from serve_app.errors import (
    InsufficientStorageError,
    MissingApiKeyError,
    ModelLoadError,
    ModelNotFoundError,
    ServeAppError,
    UpstreamTimeoutError,
)
from serve_app.weights.base import WeightSource
from serve_app.weights.config import RemoteSource, S3Config, WeightSources
from serve_app.weights.local import find_local_package, is_complete_package
from serve_app.weights.package import read_package
from serve_app.weights.roboflow import RoboflowSource
from serve_app.weights.s3 import S3Source

logger = logging.getLogger("ray.serve")

QUARANTINE_DIR = ".quarantine"

FETCH_ATTEMPTS = 2
"""Fetches of a package from one source whose download arrived but does not load."""

LOCK_TIMEOUT_S = 600.0
"""How long to wait for another process's download of the same model."""

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def build_source(config: RemoteSource) -> WeightSource:
    return S3Source(config) if isinstance(config, S3Config) else RoboflowSource(config)


def package_store(config: WeightSources) -> PackageStore:
    """The store ``config`` describes: its cache, local folders and sources, in order."""
    sources = [build_source(source) for source in config.remote]
    return PackageStore(config.cache_dir, sources, config.local_dirs)


class PackageStore:
    """Model packages by id: from a local folder read in place, else from the cache,
    fetched into it from the first source that has the model."""

    def __init__(
        self, cache_dir: Path, sources: list[WeightSource], local_dirs: Sequence[Path] = ()
    ) -> None:
        self._cache_dir = cache_dir
        self._sources = sources
        self._local_dirs = list(local_dirs)
        self._packages: dict[ModelId, ModelPackage] = {}
        self._origins: dict[ModelId, str] = {}
        self._guard = threading.Lock()

    def package(self, model_id: str, api_key: str | None = None) -> ModelPackage:
        """The package's metadata, from a local folder or else fetched into the cache."""
        mid = ModelId.parse(model_id)
        with self._guard:
            cached = self._packages.get(mid)
        if cached is not None:
            return cached
        local = find_local_package(self._local_dirs, mid)
        package = read_package(mid, local) if local else self._load_cached(mid, api_key)
        with self._guard:
            self._packages[mid] = package
            self._origins.setdefault(
                mid, f"the local folder {local}" if local else f"the cache {package.path}"
            )
        return package

    def origin(self, model_id: str) -> str | None:
        """Where this store found the package: a local folder, the cache, or the
        source that fetched it into the cache; None before :meth:`package` returned it."""
        with self._guard:
            return self._origins.get(ModelId.parse(model_id))

    def ensure_cached(self, model_id: ModelId, api_key: str | None) -> Path:
        """The folder of the complete package, fetched first if it is not cached."""
        target = self._cache_dir / model_id.relative_path
        if is_complete_package(target):
            return target
        with self._locked(model_id):
            if not is_complete_package(target):  # else another process fetched it while we waited
                self._fetch(model_id, target, api_key)
        return target

    def _load_cached(self, model_id: ModelId, api_key: str | None) -> ModelPackage:
        path = self.ensure_cached(model_id, api_key)
        try:
            return read_package(model_id, path)
        except ModelLoadError as unusable:
            # Verified when this server cached it, so the copy went bad since (disk
            # fault, hand edit) or another server wrote it: set it aside, fetch once more.
            self._quarantine(model_id)
            try:
                return read_package(model_id, self.ensure_cached(model_id, api_key))
            except ServeAppError as refetch:
                raise ModelLoadError(
                    f"{unusable.message}. The cached copy was moved to "
                    f"{self._cache_dir / QUARANTINE_DIR}, and fetching it again failed: "
                    f"{refetch.message}"
                ) from refetch

    def _fetch(self, model_id: ModelId, target: Path, api_key: str | None) -> None:
        staging = self._cache_dir / STAGING_DIR / model_id.relative_path
        failures: list[tuple[WeightSource, ServeAppError]] = []
        try:
            if self._fetch_from_sources(model_id, target, staging, api_key, failures):
                return
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            raise InsufficientStorageError(
                f"Model {model_id} cannot be cached: the disk of MODEL_CACHE_DIR "
                f"({self._cache_dir}) is full; nothing of it was kept"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        raise self._not_fetched(model_id, failures)

    def _not_fetched(
        self, model_id: ModelId, failures: list[tuple[WeightSource, ServeAppError]]
    ) -> ServeAppError:
        """Why no source gave ``model_id``: the first real failure, else a message that
        says where it was looked for, so a mistyped id reads apart from a missing key."""
        for _, error in failures:
            if not isinstance(error, MissingApiKeyError):
                return error
        unasked = {source.name for source, _ in failures}
        asked = self._places(model_id, unasked)
        if not unasked:
            return ModelNotFoundError(f"Model {model_id} is in none of {asked}")
        return MissingApiKeyError(
            f"Model {model_id} is in none of {asked}. Roboflow may have it, but asking it "
            "needs an API key: send api_key or set ROBOFLOW_API_KEY on the server (or check "
            "the model id, if the model should be local)"
        )

    def _places(self, model_id: ModelId, unasked: set[str]) -> str:
        """The places ``model_id`` was looked for, in order, for a message."""
        folders = [str(d / model_id.relative_path) for d in self._local_dirs]
        folders.append(f"{self._cache_dir / model_id.relative_path} (MODEL_CACHE_DIR)")
        places = ["the local folders " + ", ".join(folders)]
        places += [s.where(model_id) for s in self._sources if s.name not in unasked]
        return "; ".join(places)

    def _fetch_from_sources(
        self,
        model_id: ModelId,
        target: Path,
        staging: Path,
        api_key: str | None,
        failures: list[tuple[WeightSource, ServeAppError]],
    ) -> bool:
        """Move the first source's verified package into ``target``; False when no
        source had one (their failures are added to ``failures``)."""
        for source in self._sources:
            start = time.perf_counter()
            try:
                found = self._fetch_verified(source, model_id, staging, api_key)
            except ServeAppError as exc:
                # A later source may still have the model; if none does, this says
                # more than "not found".
                failures.append((source, exc))
                continue
            if found:
                publish_folder(staging, target)  # over an incomplete leftover, if any
                where = source.where(model_id)
                with self._guard:
                    self._origins[model_id] = where
                logger.info(
                    "Model %s fetched from %s into %s in %.2f s",
                    model_id,
                    where,
                    target,
                    time.perf_counter() - start,
                )
                return True
        return False

    def _fetch_verified(
        self, source: WeightSource, model_id: ModelId, staging: Path, api_key: str | None
    ) -> bool:
        """Fetch into ``staging`` a package that loads; False if ``source`` lacks it."""
        for _ in range(FETCH_ATTEMPTS - 1):
            try:
                return self._fetch_once(source, model_id, staging, api_key)
            except ModelLoadError:
                continue  # arrived whole yet unreadable: maybe corrupted in transit
        return self._fetch_once(source, model_id, staging, api_key)

    def _fetch_once(
        self, source: WeightSource, model_id: ModelId, staging: Path, api_key: str | None
    ) -> bool:
        fresh_folder(staging)  # we hold the model's lock
        if not source.fetch(model_id, staging, api_key):
            return False
        read_package(model_id, staging)  # parses the ONNX graph, reads the metadata
        return True

    def _quarantine(self, model_id: ModelId) -> None:
        target = self._cache_dir / model_id.relative_path
        with self._locked(model_id):
            # Another process may have replaced the bad copy while we waited.
            if not is_complete_package(target) or _loads(model_id, target):
                return
            aside = self._cache_dir / QUARANTINE_DIR / model_id.relative_path
            shutil.rmtree(aside, ignore_errors=True)
            aside.parent.mkdir(parents=True, exist_ok=True)
            target.rename(aside)

    @contextmanager
    def _locked(self, model_id: ModelId) -> Iterator[None]:
        path = self._cache_dir / LOCKS_DIR / model_id.dataset / f"{model_id.version}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(path), timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout:
            raise UpstreamTimeoutError(
                f"Model {model_id} is still being fetched by another worker "
                f"after {LOCK_TIMEOUT_S:g} s"
            ) from None


def _loads(model_id: ModelId, folder: Path) -> bool:
    try:
        read_package(model_id, folder)
    except ModelLoadError:
        return False
    return True
