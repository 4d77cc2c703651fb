"""Model families: what Roboflow's ``modelType`` names, reduced to the architecture.

Roboflow spells one architecture many ways (``"yolov8n-seg"``, ``"yolo11s"``,
``"yolo_nas_m"``, ``"rfdetr-seg-small"``). Decoders and input normalisation depend on
the family only, so both look it up here.
"""

from __future__ import annotations

import re

from serve_app.core.ids import Task
from serve_app.core.spec import IMAGENET, SYMMETRIC, UNNORMALIZED, InputNormalization

_NAS = re.compile(r"^yolo[-_]?nas")
_YOLO_VERSION = re.compile(r"^yolov?(\d+)")
_RESNET = re.compile(r"^resnet\d*")


def model_family(model_type: str) -> str:
    """``"yolov8n-seg"`` → ``"yolov8"``; ``"yolo11s"`` → ``"yolov11"``; ``"yolo26n-pose"``
    → ``"yolov26"``; ``"yolo_nas_s"`` and ``"yolonas"`` → ``"yolo_nas"``;
    ``"rfdetr-seg-small"`` → ``"rfdetr"``; ``"resnet50"`` → ``"resnet"``; others: the
    part before the first "-"."""
    name = model_type.lower()
    if _NAS.match(name):
        return "yolo_nas"
    version = _YOLO_VERSION.match(name)
    if version:
        return f"yolov{int(version.group(1))}"
    if _RESNET.match(name):
        return "resnet"
    return name.split("-")[0]


# As Roboflow's server normalises each family's input (each model class's
# preprocess_means / preprocess_stds). YOLO families take [0, 1] as Ultralytics trains
# them; Roboflow's classic classification path gives YOLOv8 classifiers its base
# class's [-1, 1] as well, which this server does not copy.
_NORMALIZATION: dict[tuple[Task, str], InputNormalization] = {
    (Task.CLASSIFICATION, "vit"): SYMMETRIC,
    (Task.CLASSIFICATION, "resnet"): IMAGENET,
    (Task.CLASSIFICATION, "dinov3"): IMAGENET,
    (Task.OBJECT_DETECTION, "rfdetr"): IMAGENET,
    (Task.INSTANCE_SEGMENTATION, "rfdetr"): IMAGENET,
}


def input_normalization(task: Task, model_type: str) -> InputNormalization:
    """What a model of ``task`` and ``model_type`` expects of its [0, 1] RGB input."""
    return _NORMALIZATION.get((task, model_family(model_type)), UNNORMALIZED)
