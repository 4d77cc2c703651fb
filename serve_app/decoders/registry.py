"""Chooses the decoder from the model's declared task and type, never from shapes.

Roboflow's ``model_type.json`` names the task (``type``) and the architecture
(``modelType``, e.g. ``"yolov8n-seg"``, ``"yolo11s"``, ``"yolo_nas_m"``). The
architecture's family and the task pick one decoder here; adding a family is one line.
"""

from __future__ import annotations

import re

from serve_app.core.ids import Task
from serve_app.core.predictions import Prediction
from serve_app.core.spec import ModelSpec
from serve_app.decoders.base import Decoder
from serve_app.decoders.classification import decode_classification
from serve_app.decoders.yolo_nas import decode_yolo_nas_detection
from serve_app.decoders.yolov5 import decode_yolov5_detection, decode_yolov5_segmentation
from serve_app.decoders.yolov8 import decode_yolov8_detection, decode_yolov8_segmentation
from serve_app.decoders.yolov10 import decode_yolov10_detection
from serve_app.errors import ModelLoadError

AnyDecoder = Decoder[Prediction]

_DECODERS: dict[tuple[Task, str], AnyDecoder] = {
    (Task.OBJECT_DETECTION, "yolov5"): decode_yolov5_detection,
    (Task.OBJECT_DETECTION, "yolov8"): decode_yolov8_detection,
    (Task.OBJECT_DETECTION, "yolov10"): decode_yolov10_detection,
    (Task.OBJECT_DETECTION, "yolov11"): decode_yolov8_detection,
    (Task.OBJECT_DETECTION, "yolov12"): decode_yolov8_detection,
    (Task.OBJECT_DETECTION, "yolo_nas"): decode_yolo_nas_detection,
    (Task.INSTANCE_SEGMENTATION, "yolov5"): decode_yolov5_segmentation,
    (Task.INSTANCE_SEGMENTATION, "yolov7"): decode_yolov5_segmentation,
    (Task.INSTANCE_SEGMENTATION, "yolov8"): decode_yolov8_segmentation,
    (Task.INSTANCE_SEGMENTATION, "yolov11"): decode_yolov8_segmentation,
}

# Tasks whose output is the same whatever the family: every classification export ends
# in one logit per class, be it a YOLO, ResNet or ViT backbone.
_TASK_DECODERS: dict[Task, AnyDecoder] = {Task.CLASSIFICATION: decode_classification}

_NAS = re.compile(r"^yolo[-_]?nas")
_YOLO_VERSION = re.compile(r"^yolov?(\d+)")


def model_family(model_type: str) -> str:
    """``"yolov8n-seg"`` → ``"yolov8"``; ``"yolo11s"`` → ``"yolov11"``;
    ``"yolo_nas_s"`` and ``"yolonas"`` → ``"yolo_nas"``; others: the part before "-"."""
    name = model_type.lower()
    if _NAS.match(name):
        return "yolo_nas"
    version = _YOLO_VERSION.match(name)
    if version:
        return f"yolov{int(version.group(1))}"
    return name.split("-")[0]


def decoder_for(spec: ModelSpec) -> AnyDecoder:
    family = model_family(spec.model_type)
    decoder = _DECODERS.get((spec.task, family)) or _TASK_DECODERS.get(spec.task)
    if decoder is None:
        raise ModelLoadError(
            f"Model {spec.model_id}: no decoder for task {spec.task.value!r} "
            f"and model type {spec.model_type!r}"
        )
    return decoder
