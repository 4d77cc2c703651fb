"""A model package on disk, parsed once into typed metadata.

A package is a folder ``{dataset}/{version}/`` holding ``weights.onnx``,
``environment.json``, optionally ``class_names.txt`` (wins over ``CLASS_MAP``) and
``model_type.json`` (``{"type": ..., "modelType": ...}``, as the Roboflow API names
them). The package never loads the network itself: engines do that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from serve_app.errors import InvalidRequestError, ModelLoadError
from serve_app.preprocessing.transforms import ResizeMode

WEIGHTS_FILE = "weights.onnx"
ENVIRONMENT_FILE = "environment.json"
CLASS_NAMES_FILE = "class_names.txt"
MODEL_TYPE_FILE = "model_type.json"

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

    def __str__(self) -> str:
        return f"{self.dataset}/{self.version}"

    @property
    def relative_path(self) -> Path:
        return Path(self.dataset) / self.version


class Task(str, Enum):
    OBJECT_DETECTION = "object-detection"
    INSTANCE_SEGMENTATION = "instance-segmentation"
    CLASSIFICATION = "classification"


@dataclass(frozen=True)
class ResizeSpec:
    width: int
    height: int
    mode: ResizeMode


@dataclass(frozen=True)
class PreprocessingSpec:
    """The ``PREPROCESSING`` block of ``environment.json``; steps absent are disabled."""

    resize: ResizeSpec | None = None
    auto_orient: bool = False
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every enabled step by its Roboflow name, as written in the file."""


@dataclass(frozen=True)
class ModelPackage:
    model_id: ModelId
    path: Path
    task: Task
    model_type: str
    class_names: tuple[str, ...]
    preprocessing: PreprocessingSpec
    input_width: int
    input_height: int
    batch_size: int | None
    """Fixed batch dimension of the network, or None where it is dynamic."""
    colors: dict[str, str] = field(default_factory=dict)
    multilabel: bool = False

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    @classmethod
    def load(cls, model_id: ModelId, path: Path) -> ModelPackage:
        try:
            environment = json.loads((path / ENVIRONMENT_FILE).read_text())
            model_type = _read_model_type(path / MODEL_TYPE_FILE)
            preprocessing = parse_preprocessing(environment.get("PREPROCESSING", {}))
            batch, height, width = _read_input_shape(path / WEIGHTS_FILE)
        except (OSError, ValueError, KeyError, TypeError, StopIteration, DecodeError) as exc:
            raise ModelLoadError(f"Model {model_id} is not a usable model package: {exc}") from exc
        if height is None or width is None:
            if preprocessing.resize is None:
                raise ModelLoadError(
                    f"Model {model_id} has a dynamic input size and no resize in environment.json"
                )
            height, width = preprocessing.resize.height, preprocessing.resize.width
        return cls(
            model_id=model_id,
            path=path,
            task=Task(model_type.get("type", Task.OBJECT_DETECTION.value)),
            model_type=str(model_type.get("modelType", "yolov8")),
            class_names=_read_class_names(path, environment),
            preprocessing=preprocessing,
            input_width=width,
            input_height=height,
            batch_size=batch,
            colors=dict(environment.get("COLORS") or {}),
            multilabel=bool(environment.get("MULTICLASS", False)),
        )


def parse_preprocessing(raw: str | dict[str, Any]) -> PreprocessingSpec:
    """Parse ``PREPROCESSING``, which Roboflow writes either as a dict or as that
    dict serialised to a JSON string."""
    steps_raw: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    steps = {
        name: dict(step)
        for name, step in steps_raw.items()
        if isinstance(step, dict) and step.get("enabled", True)
    }
    resize = None
    if "resize" in steps:
        r = steps["resize"]
        resize = ResizeSpec(
            int(r["width"]), int(r["height"]), ResizeMode(r.get("format", "Stretch to"))
        )
    return PreprocessingSpec(resize=resize, auto_orient="auto-orient" in steps, steps=steps)


def _read_model_type(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _read_class_names(path: Path, environment: dict[str, Any]) -> tuple[str, ...]:
    names_file = path / CLASS_NAMES_FILE
    if names_file.exists():
        return tuple(line.strip() for line in names_file.read_text().splitlines() if line.strip())
    class_map: dict[str, str] = environment.get("CLASS_MAP") or {}
    return tuple(class_map[k] for k in sorted(class_map, key=int))


def _read_input_shape(weights: Path) -> tuple[int | None, int | None, int | None]:
    """(batch, height, width) of the first graph input; None for symbolic dims."""
    graph = onnx.load(str(weights), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    first = next(i for i in graph.input if i.name not in initializers)
    dims = [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in first.type.tensor_type.shape.dim
    ]
    if len(dims) != 4:
        raise ValueError(f"expected an NCHW image input, got {len(dims)} dimensions")
    return dims[0], dims[2], dims[3]
