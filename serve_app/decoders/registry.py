"""Chooses the decoder from the model's declared task and type, never from shapes."""

from __future__ import annotations

from serve_app.decoders.base import Decoder
from serve_app.decoders.yolov8 import decode_yolov8_detection
from serve_app.errors import ModelLoadError
from serve_app.weights.package import ModelPackage, Task

# (task, model family) → decoder. The family is the modelType prefix before its size
# letter: "yolov8n" and "yolov8s-640" are both "yolov8".
_DECODERS: dict[tuple[Task, str], Decoder] = {
    (Task.OBJECT_DETECTION, "yolov8"): decode_yolov8_detection,
    (Task.OBJECT_DETECTION, "yolov11"): decode_yolov8_detection,
    (Task.OBJECT_DETECTION, "yolov12"): decode_yolov8_detection,
}


def model_family(model_type: str) -> str:
    """``"yolov8n-seg"`` → ``"yolov8"``; ``"yolo11s"`` → ``"yolov11"``."""
    name = model_type.lower().split("-")[0]
    if name.startswith("yolo") and not name.startswith("yolov"):
        name = "yolov" + name[4:]
    if name.startswith("yolov"):
        digits = "".join(ch for ch in name[5:] if ch.isdigit())
        return "yolov" + digits
    return name


def decoder_for(package: ModelPackage) -> Decoder:
    key = (package.task, model_family(package.model_type))
    try:
        return _DECODERS[key]
    except KeyError:
        raise ModelLoadError(
            f"Model {package.model_id}: no decoder for task {package.task.value!r} "
            f"and model type {package.model_type!r}"
        ) from None
