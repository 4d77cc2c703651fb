"""Built engines, kept beside the model cache and shared through S3 (or any folder share).

Layout, under ``MODEL_CACHE_DIR``::

    .engines/{dataset}/{version}/{key name}/   a built engine: its files, then key.json
    .engines/.staging/...                       a build in progress, under its lock
    .engines/.timing/{device}.cache             TensorRT's timing cache, per kind of GPU
    .locks/.engines/{dataset}/{version}/{key name}.lock

The folder sits outside the model folders, so replacing or quarantining a package
keeps its engines (the key names the ONNX file's hash: a changed network gets a new
one), and outside read-only local model folders. ``key.json`` is written last: a
folder without it is a crashed build and is built again.

A replica that needs an engine takes its lock: another replica of the node building
the same engine is waited for, then its result is loaded. Under the lock the engine
is looked for on disk, then in S3 beside the model (``{model folder}/.engines/{key
name}/``, the files of the folder), and only then built; a built engine is uploaded
there for the other nodes. Credentials that may read but not write keep engines
local; that is logged once.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from serve_app.core.engines import BuildState, DeviceIdentity, EngineKey, EngineOrigin
from serve_app.core.folders import LOCKS_DIR, STAGING_DIR, fresh_folder, publish_folder
from serve_app.core.ids import ModelId
from serve_app.errors import ServeAppError, StoreAccessDeniedError, UpstreamTimeoutError

logger = logging.getLogger("ray.serve")

ENGINES_DIR = ".engines"
KEY_FILE = "key.json"
LOCK_TIMEOUT_S = 3600.0
"""A TensorRT build of a large network can take many minutes; waiters wait for it."""


Step = Callable[[BuildState], None]
"""Told each stage a lookup reaches: waiting, fetching, building."""


class FolderShare(Protocol):
    """Where built engines are shared between nodes: folders of files beside each
    model's package (the S3 weight source is one)."""

    def model_folder(self, model_id: ModelId, *subfolders: str) -> str:
        """The share's name of the model's folder, or of a folder in it."""
        ...

    def fetch_folder(self, folder: str, dest: Path, what: str) -> bool:
        """Download the files of ``folder`` into ``dest``; False if it has none."""
        ...

    def upload_folder(self, source: Path, folder: str, what: str, last: str) -> None:
        """Upload the files of ``source`` as ``folder``, ``last`` after the rest."""
        ...


@dataclass(frozen=True)
class StoredEngine:
    folder: Path
    origin: EngineOrigin


class EngineStore:
    def __init__(self, cache_dir: Path, share: FolderShare | None = None) -> None:
        self._root = cache_dir / ENGINES_DIR
        self._locks = cache_dir / LOCKS_DIR / ENGINES_DIR
        self._share = share
        self._upload_denied = False

    def folder(self, model_id: ModelId, key: EngineKey) -> Path:
        return self._root / model_id.relative_path / key.name

    def timing_cache(self, device: DeviceIdentity) -> Path:
        safe = "".join(c if c.isalnum() else "-" for c in device.name)
        return self._root / ".timing" / f"{safe}-{device.compute_capability or 'na'}.cache"

    def lock_path(self, model_id: ModelId, key: EngineKey) -> Path:
        return self._locks / model_id.relative_path / f"{key.name}.lock"

    def get_or_build(
        self,
        model_id: ModelId,
        key: EngineKey,
        build: Callable[[Path], None],
        step: Step = lambda _: None,
    ) -> StoredEngine:
        """The folder of the built engine: from disk, from S3, or ``build(folder)``."""
        target = self.folder(model_id, key)
        if _complete(target):
            return StoredEngine(target, EngineOrigin.CACHE)
        lock = self.lock_path(model_id, key)
        lock.parent.mkdir(parents=True, exist_ok=True)
        step(BuildState.WAITING)
        try:
            with FileLock(str(lock), timeout=LOCK_TIMEOUT_S):
                return self._under_lock(model_id, key, target, build, step)
        except Timeout:
            raise UpstreamTimeoutError(
                f"Engine {key.name} of {model_id} is still being built elsewhere "
                f"after {LOCK_TIMEOUT_S:g} s"
            ) from None

    def _under_lock(
        self,
        model_id: ModelId,
        key: EngineKey,
        target: Path,
        build: Callable[[Path], None],
        step: Step,
    ) -> StoredEngine:
        if _complete(target):  # another replica built it while we waited
            return StoredEngine(target, EngineOrigin.CACHE)
        staging = self._root / STAGING_DIR / model_id.relative_path / key.name
        fresh_folder(staging)
        try:
            step(BuildState.FETCHING)
            if self._fetch(model_id, key, staging):
                origin = EngineOrigin.S3
            else:
                step(BuildState.BUILDING)
                build(staging)
                (staging / KEY_FILE).write_text(json.dumps(key.describe(), indent=1))
                origin = EngineOrigin.BUILT
            publish_folder(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if origin is EngineOrigin.BUILT:
            self._upload(model_id, key, target)
        return StoredEngine(target, origin)

    def _fetch(self, model_id: ModelId, key: EngineKey, staging: Path) -> bool:
        if self._share is None:
            return False
        folder = self._share.model_folder(model_id, ENGINES_DIR, key.name)
        try:
            found = self._share.fetch_folder(folder, staging, f"Engine {key.name}")
        except ServeAppError as exc:  # building here is the way round an unreachable S3
            logger.warning("Could not fetch a built engine: %s", exc.message)
            return False
        if found and _complete(staging):
            return True
        for leftover in staging.iterdir():  # an upload still in progress: build instead
            leftover.unlink()
        return False

    def _upload(self, model_id: ModelId, key: EngineKey, folder: Path) -> None:
        if self._share is None or self._upload_denied:
            return
        prefix = self._share.model_folder(model_id, ENGINES_DIR, key.name)
        try:
            self._share.upload_folder(folder, prefix, f"Engine {key.name}", last=KEY_FILE)
        except StoreAccessDeniedError as exc:
            self._upload_denied = True
            logger.warning(
                "Built engines stay on this node: S3 refuses uploads (%s). "
                "Further refusals are not logged.",
                exc.message,
            )
        except ServeAppError as exc:
            logger.warning("Could not upload engine %s: %s", key.name, exc.message)


def _complete(folder: Path) -> bool:
    return (folder / KEY_FILE).is_file()
