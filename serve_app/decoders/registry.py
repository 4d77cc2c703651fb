"""The head table: one row per (task, family), holding how that head is decoded on the
host and, where one exists, the layout the device path reads it by.

``model_type.json`` names the task and the architecture (e.g. ``"yolov8n-seg"``,
``"yolo11s"``, ``"yolo_nas_m"``, ``"rfdetr-base"``); the architecture's family
(:func:`~serve_app.core.families.model_family`) and the task pick the row, never the
output shapes. Adding a family is one row. The device layouts are named here, not
imported: ``device/decoding.py`` holds their torch readers and imports torch, which
replicas without a torch engine never load.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from serve_app.core.families import model_family
from serve_app.core.ids import Task
from serve_app.core.predictions import Prediction
from serve_app.core.spec import ModelSpec
from serve_app.decoders.base import Decoder
from serve_app.decoders.classification import decode_classification
from serve_app.decoders.nms_free import (
    decode_nms_free_detection,
    decode_nms_free_keypoints,
    decode_nms_free_segmentation,
)
from serve_app.decoders.rfdetr import decode_rfdetr_detection, decode_rfdetr_segmentation
from serve_app.decoders.yolo_nas import decode_yolo_nas_detection
from serve_app.decoders.yolov5 import decode_yolov5_detection, decode_yolov5_segmentation
from serve_app.decoders.yolov8 import (
    decode_yolov8_detection,
    decode_yolov8_keypoints,
    decode_yolov8_segmentation,
)
from serve_app.errors import ModelLoadError

AnyDecoder = Decoder[Prediction]


class DeviceLayout(str, Enum):
    """A head layout the device path reads (``device/decoding.py``)."""

    YOLOV8 = "yolov8"
    """[4 + C (+ K), N] per image: columns are candidates."""
    YOLOV5 = "yolov5"
    """[N, 5 + C (+ K)] per image: rows are candidates, with an objectness."""


@dataclass(frozen=True)
class Head:
    """How a head of one (task, family) is decoded."""

    decode: AnyDecoder
    device: DeviceLayout | None = None
    """The layout the device path reads it by; None: decoded on the host only."""


ANY_FAMILY = "*"
"""A row for every family of a task: every classification export ends in one output
per class, be it a YOLO, ResNet or ViT backbone."""

D, S, K = Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION, Task.KEYPOINT_DETECTION
V8, V5 = DeviceLayout.YOLOV8, DeviceLayout.YOLOV5

HEADS: dict[tuple[Task, str], Head] = {
    (D, "yolov5"): Head(decode_yolov5_detection, V5),
    (D, "yolov8"): Head(decode_yolov8_detection, V8),
    (D, "yolov9"): Head(decode_yolov8_detection, V8),
    (D, "yolov10"): Head(decode_nms_free_detection),
    (D, "yolov11"): Head(decode_yolov8_detection, V8),
    (D, "yolov12"): Head(decode_yolov8_detection, V8),
    (D, "yolov26"): Head(decode_nms_free_detection),
    (D, "yolo_nas"): Head(decode_yolo_nas_detection),
    (D, "rfdetr"): Head(decode_rfdetr_detection),
    (S, "yolov5"): Head(decode_yolov5_segmentation, V5),
    (S, "yolov7"): Head(decode_yolov5_segmentation, V5),
    (S, "yolov8"): Head(decode_yolov8_segmentation, V8),
    (S, "yolov11"): Head(decode_yolov8_segmentation, V8),
    (S, "yolov26"): Head(decode_nms_free_segmentation),
    (S, "rfdetr"): Head(decode_rfdetr_segmentation),
    (K, "yolov8"): Head(decode_yolov8_keypoints),
    (K, "yolov11"): Head(decode_yolov8_keypoints),
    (K, "yolov26"): Head(decode_nms_free_keypoints),
    (Task.CLASSIFICATION, ANY_FAMILY): Head(decode_classification),
}


def head_for(spec: ModelSpec) -> Head:
    """The row of ``spec``'s task and family; a :class:`ModelLoadError` where there is
    none, when the model loads."""
    family = model_family(spec.model_type)
    head = HEADS.get((spec.task, family)) or HEADS.get((spec.task, ANY_FAMILY))
    if head is None:
        raise ModelLoadError(
            f"Model {spec.model_id}: no decoder for task {spec.task.value!r} "
            f"and model type {spec.model_type!r}"
        )
    return head


def decoder_for(spec: ModelSpec) -> AnyDecoder:
    return head_for(spec).decode
