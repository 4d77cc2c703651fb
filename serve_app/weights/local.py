"""Model packages from a folder on this machine, including those bundled with the app."""

from __future__ import annotations

import shutil
from pathlib import Path

from serve_app.weights.package import WEIGHTS_FILE, ModelId

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"


class LocalDirectorySource:
    """Copies ``{root}/{dataset}/{version}/`` into the cache."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self._root = root

    def fetch(self, model_id: ModelId, dest: Path, api_key: str | None) -> bool:
        src = self._root / model_id.relative_path
        if not (src / WEIGHTS_FILE).is_file():
            return False
        shutil.copytree(src, dest, dirs_exist_ok=True)
        return True
