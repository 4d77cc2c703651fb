"""Model packages in folders on this machine, including those bundled with the app.

They are read in place, never copied into the cache: a copy could only go stale
when the folder changes (a new release of the bundled models, an edited model).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from serve_app.core.ids import ModelId
from serve_app.weights.package import ENVIRONMENT_FILE, find_weights


def find_local_package(dirs: Sequence[Path], model_id: ModelId) -> Path | None:
    """The first folder holding a complete package of ``model_id``."""
    for root in dirs:
        folder = root / model_id.relative_path
        if is_complete_package(folder):
            return folder
    return None


def is_complete_package(folder: Path) -> bool:
    return find_weights(folder) is not None and (folder / ENVIRONMENT_FILE).is_file()
