"""Folders that appear whole or not at all: a download or a build fills a staging
folder, which is then renamed into place, under a lock file shared by the node's
processes. The model cache and the engine store both keep their folders so."""

from __future__ import annotations

import shutil
from pathlib import Path

STAGING_DIR = ".staging"
"""Under a cache root: folders being filled, never read from."""
LOCKS_DIR = ".locks"
"""Under a cache root: one lock file per model or engine, shared by the node's processes."""


def fresh_folder(path: Path) -> None:
    """An empty ``path``: whatever is there is a crashed download's or build's (the
    caller holds the lock that would have kept a live one)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def publish_folder(staging: Path, target: Path) -> None:
    """Move a complete ``staging`` folder to ``target``, replacing any leftover there."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
