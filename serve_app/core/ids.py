"""Model ids and the tasks models are trained for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath

from serve_app.errors import InvalidRequestError

# Path components only: a model id must never escape the cache directory.
_ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True)
class ModelId:
    dataset: str
    version: str

    @classmethod
    def parse(cls, model_id: str) -> ModelId:
        parts = model_id.strip("/").split("/")
        if len(parts) != 2 or not all(_ID_PART.match(p) and ".." not in p for p in parts):
            raise InvalidRequestError(
                f"Invalid model_id {model_id!r}: expected 'dataset/version' "
                "made of letters, digits, '-', '_' and '.'"
            )
        return cls(parts[0], parts[1])

    @classmethod
    def normalize(cls, model_id: str) -> str:
        """The canonical spelling of ``model_id`` (``"/a/1/"`` → ``"a/1"``)."""
        return str(cls.parse(model_id))

    def __str__(self) -> str:
        return f"{self.dataset}/{self.version}"

    @property
    def relative_path(self) -> PurePosixPath:
        return PurePosixPath(self.dataset) / self.version


class Task(str, Enum):
    """Roboflow's project task types, as ``model_type.json`` and the API name them."""

    OBJECT_DETECTION = "object-detection"
    INSTANCE_SEGMENTATION = "instance-segmentation"
    CLASSIFICATION = "classification"
    KEYPOINT_DETECTION = "keypoint-detection"
