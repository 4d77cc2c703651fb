"""A model package on disk, parsed once into typed metadata.

A package is a folder ``{dataset}/{version}/`` holding ``weights.onnx``,
``environment.json``, optionally ``class_names.txt`` (wins over ``CLASS_MAP``) and
``model_type.json`` (``{"type": ..., "modelType": ...}``, as the Roboflow API names
them). The package never loads the network itself: engines do that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId, Task
from serve_app.core.spec import ContrastType, CropBox, ModelSpec, PreprocessingSpec, ResizeSpec
from serve_app.errors import ModelLoadError

WEIGHTS_FILE = "weights.onnx"
ENVIRONMENT_FILE = "environment.json"
CLASS_NAMES_FILE = "class_names.txt"
MODEL_TYPE_FILE = "model_type.json"


@dataclass(frozen=True)
class ModelPackage:
    """A package folder and what it declares."""

    spec: ModelSpec
    path: Path

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    @classmethod
    def load(cls, model_id: ModelId, path: Path) -> ModelPackage:
        """Parse the package's files; a malformed one is a :class:`ModelLoadError` now,
        when it is fetched, not on some later request."""
        try:
            environment = json.loads((path / ENVIRONMENT_FILE).read_text())
            model_type = _read_model_type(path / MODEL_TYPE_FILE)
            preprocessing = parse_preprocessing(environment.get("PREPROCESSING", {}))
            batch, height, width = _read_input_shape(path / WEIGHTS_FILE)
        except (OSError, ValueError, KeyError, TypeError, StopIteration, DecodeError) as exc:
            raise ModelLoadError(
                f"Model {model_id} is not a usable model package: {exc!r}"
            ) from exc
        if height is None or width is None:
            if preprocessing.resize is None:
                raise ModelLoadError(
                    f"Model {model_id} has a dynamic input size and no resize in environment.json"
                )
            height, width = preprocessing.resize.height, preprocessing.resize.width
        spec = ModelSpec(
            model_id=model_id,
            task=Task(model_type.get("type", Task.OBJECT_DETECTION.value)),
            model_type=str(model_type.get("modelType", "yolov8")),
            class_names=_read_class_names(path, environment),
            input_width=width,
            input_height=height,
            batch_size=batch,
            preprocessing=preprocessing,
            colors=dict(environment.get("COLORS") or {}),
            multilabel=bool(environment.get("MULTICLASS", False)),
        )
        return cls(spec, path)


def parse_preprocessing(raw: str | dict[str, Any]) -> PreprocessingSpec:
    """Parse ``PREPROCESSING``, which Roboflow writes either as a dict or as that dict
    serialised to a JSON string; steps switched off (``"enabled": false``) are left out.

    Raises ``KeyError``, ``ValueError`` or ``TypeError`` for a malformed step.
    """
    steps_raw: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    steps = {
        name: step
        for name, step in steps_raw.items()
        if isinstance(step, dict) and step.get("enabled", True)
    }
    resize, crop, contrast = steps.get("resize"), steps.get("static-crop"), steps.get("contrast")
    return PreprocessingSpec(
        auto_orient="auto-orient" in steps,
        static_crop=None
        if crop is None
        else CropBox(*(float(crop[key]) for key in ("x_min", "y_min", "x_max", "y_max"))),
        contrast=None if contrast is None else ContrastType(contrast["type"]),
        grayscale="grayscale" in steps,
        resize=None
        if resize is None
        else ResizeSpec(
            int(resize["width"]),
            int(resize["height"]),
            ResizeMode(resize.get("format", ResizeMode.STRETCH.value)),
        ),
    )


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
