"""A model package on disk, parsed once into typed metadata.

A package is a folder ``{dataset}/{version}/`` holding the network (``weights.onnx``;
Roboflow's server names its ViT and ResNet classifiers' ``best.onnx``),
``environment.json``, ``model_type.json`` (the task and the architecture), optionally
``class_names.txt`` (wins over ``CLASS_MAP``) and, for keypoint models,
``keypoints_metadata.json``. Packages written by Roboflow's server read unchanged.
The package never loads the network itself: engines do that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from serve_app.core.families import input_normalization
from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId, Task
from serve_app.core.spec import (
    ClassificationActivation,
    ContrastType,
    CropBox,
    ModelPackage,
    ModelSpec,
    PreprocessingSpec,
    ResizeSpec,
)
from serve_app.errors import ModelLoadError

WEIGHTS_FILE = "weights.onnx"
WEIGHTS_FILES = (WEIGHTS_FILE, "best.onnx")
"""Names the network may have, in the order they are looked for."""
ENVIRONMENT_FILE = "environment.json"
CLASS_NAMES_FILE = "class_names.txt"
MODEL_TYPE_FILE = "model_type.json"
KEYPOINTS_METADATA_FILE = "keypoints_metadata.json"
INFERENCE_CONFIG_FILE = "inference_config.json"
"""Roboflow's newer package format (``inference_models``); only its
``post_processing`` is read, and only for classifiers."""

# model_type.json keys: Roboflow's server writes the first of each pair, the Roboflow
# API (and earlier versions of this server) the second.
TASK_KEYS = ("project_task_type", "type")
MODEL_TYPE_KEYS = ("model_type", "modelType")


def read_package(model_id: ModelId, path: Path) -> ModelPackage:
    """Parse the package's files; a malformed one is a :class:`ModelLoadError` now,
    when it is fetched, not on some later request."""
    try:
        task, model_type = read_model_type(path / MODEL_TYPE_FILE)
        weights = find_weights(path)
        if weights is None:
            raise ModelLoadError(f"no network file ({' or '.join(WEIGHTS_FILES)}) in {path}")
        environment = json.loads((path / ENVIRONMENT_FILE).read_text())
        preprocessing = parse_preprocessing(environment.get("PREPROCESSING", {}))
        batch, height, width = _read_input_shape(weights)
        keypoint_names = (
            read_keypoint_names(path / KEYPOINTS_METADATA_FILE)
            if task is Task.KEYPOINT_DETECTION
            else ()
        )
        multilabel, activation = (
            read_classification_scores(path / INFERENCE_CONFIG_FILE, environment)
            if task is Task.CLASSIFICATION
            else (False, ClassificationActivation.SOFTMAX)
        )
    except ModelLoadError as exc:
        raise ModelLoadError(f"Model {model_id} is not a usable model package: {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError, StopIteration, DecodeError) as exc:
        raise ModelLoadError(f"Model {model_id} is not a usable model package: {exc!r}") from exc
    if height is None or width is None:
        if preprocessing.resize is None:
            raise ModelLoadError(
                f"Model {model_id} has a dynamic input size and no resize in environment.json"
            )
        height, width = preprocessing.resize.height, preprocessing.resize.width
    spec = ModelSpec(
        model_id=model_id,
        task=task,
        model_type=model_type,
        class_names=_read_class_names(path, environment),
        input_width=width,
        input_height=height,
        batch_size=batch,
        preprocessing=preprocessing,
        colors=dict(environment.get("COLORS") or {}),
        multilabel=multilabel,
        activation=activation,
        normalization=input_normalization(task, model_type),
        keypoint_names=keypoint_names,
    )
    return ModelPackage(spec, path, weights.name)


def find_weights(folder: Path) -> Path | None:
    """The package's network file, or None where it has none."""
    return next((folder / n for n in WEIGHTS_FILES if (folder / n).is_file()), None)


def read_model_type(path: Path) -> tuple[Task, str]:
    """The task and the architecture (``modelType``) that ``model_type.json`` names.

    Either spelling of the keys is read (see :data:`TASK_KEYS`). Nothing is assumed:
    a model of an unknown task or architecture would be decoded with the wrong head,
    so a missing file, key or task is a :class:`ModelLoadError` naming the file.
    """
    try:
        declared = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path} is missing: it names the model's task and type, "
            f'e.g. {{"project_task_type": "object-detection", "model_type": "yolov8n"}}'
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(declared, dict):
        raise ModelLoadError(f"{path} must hold a JSON object")
    task_name = _first_of(declared, TASK_KEYS, path)
    model_type = _first_of(declared, MODEL_TYPE_KEYS, path)
    try:
        task = Task(task_name)
    except ValueError:
        served = ", ".join(t.value for t in Task)
        raise ModelLoadError(
            f"{path} names task {task_name!r}, which this server does not serve ({served})"
        ) from None
    return task, model_type


def read_classification_scores(
    inference_config: Path, environment: dict[str, Any]
) -> tuple[bool, ClassificationActivation]:
    """Whether a classifier is multi-label, and what makes its outputs scores.

    A package that declares its post-processing (``inference_config.json``'s
    ``post_processing``: ``{"type": "softmax" | "sigmoid", "fused": bool}``) gets what
    it declares: a sigmoid makes it multi-label, and a ``fused`` activation is already
    in the network. Otherwise Roboflow's legacy ``MULTICLASS`` decides, and Roboflow's
    server reports a legacy multi-label model's outputs as they are.
    """
    multiclass = environment.get("MULTICLASS")
    declared = _declared_post_processing(inference_config)
    if declared is None:
        if multiclass:
            return True, ClassificationActivation.NONE
        return False, ClassificationActivation.SOFTMAX
    kind, fused = declared
    multilabel = kind is ClassificationActivation.SIGMOID
    if multiclass is not None and bool(multiclass) != multilabel:
        raise ModelLoadError(
            f"{inference_config} declares {kind.value} scores but environment.json's "
            f"MULTICLASS is {multiclass!r}"
        )
    return multilabel, ClassificationActivation.NONE if fused else kind


def _declared_post_processing(path: Path) -> tuple[ClassificationActivation, bool] | None:
    """(activation, fused) of ``inference_config.json``; None where it declares none."""
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON: {exc}") from None
    declared = config.get("post_processing") if isinstance(config, dict) else None
    if declared is None:
        return None
    kinds = (ClassificationActivation.SOFTMAX, ClassificationActivation.SIGMOID)
    kind = declared.get("type") if isinstance(declared, dict) else None
    fused = declared.get("fused") if isinstance(declared, dict) else None
    if kind not in {k.value for k in kinds} or not isinstance(fused, bool):
        raise ModelLoadError(
            f"{path}: a classifier's post_processing must be "
            f'{{"type": "softmax" or "sigmoid", "fused": true or false}}, got {declared!r}'
        )
    return ClassificationActivation(kind), fused


def read_keypoint_names(path: Path) -> tuple[tuple[str, ...], ...]:
    """Per class id, its keypoint names by keypoint index, from Roboflow's
    ``[{"object_class_id": 0, "keypoints": {"0": "nose", ...}}, ...]``."""
    try:
        entries = json.loads(path.read_text())
        by_class = {
            int(entry["object_class_id"]): {
                int(index): str(name) for index, name in entry["keypoints"].items()
            }
            for entry in entries
        }
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path} is missing: a keypoint model names its keypoints there"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{path} is malformed: {exc!r}") from None
    if any(sorted(names) != list(range(len(names))) for names in by_class.values()):
        raise ModelLoadError(f"{path}: keypoint indices of a class must run 0, 1, 2, ...")
    count = max(by_class, default=-1) + 1
    return tuple(
        tuple(names[i] for i in range(len(names)))
        for names in (by_class.get(class_id, {}) for class_id in range(count))
    )


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


def _first_of(declared: dict[str, Any], keys: tuple[str, ...], path: Path) -> str:
    value = next((declared[k] for k in keys if declared.get(k)), None)
    if not isinstance(value, str):
        raise ModelLoadError(f"{path} has no {' or '.join(repr(k) for k in keys)}")
    return value


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
