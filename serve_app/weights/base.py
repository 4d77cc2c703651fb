"""The seam between the model store and the places weights come from."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from serve_app.core.ids import ModelId


class WeightSource(Protocol):
    """Somewhere model packages come from (a folder, a bucket, the Roboflow API)."""

    name: str

    def where(self, model_id: ModelId) -> str:
        """Where this source looks for ``model_id``, for messages (never a secret)."""
        ...

    def fetch(self, model_id: ModelId, dest: Path, api_key: str | None) -> bool:
        """Write the package files of ``model_id`` into ``dest``, an empty folder.

        Returns False when this source does not have the model, so the next source
        is asked. Raises a :class:`~serve_app.errors.ServeAppError` for failures the
        client must hear about (bad key, source unreachable).
        """
        ...
