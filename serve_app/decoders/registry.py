"""Chooses the decoder from the model's declared task and type, never from shapes.

``model_type.json`` names the task and the architecture (e.g. ``"yolov8n-seg"``,
``"yolo11s"``, ``"yolo_nas_m"``, ``"rfdetr-base"``). The architecture's family
(:func:`~serve_app.core.families.model_family`) and the task pick one decoder here;
adding a family is one line.
"""

from __future__ import annotations

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

D, S, K = Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION, Task.KEYPOINT_DETECTION

_DECODERS: dict[tuple[Task, str], AnyDecoder] = {
    (D, "yolov5"): decode_yolov5_detection,
    (D, "yolov8"): decode_yolov8_detection,
    (D, "yolov9"): decode_yolov8_detection,
    (D, "yolov10"): decode_nms_free_detection,
    (D, "yolov11"): decode_yolov8_detection,
    (D, "yolov12"): decode_yolov8_detection,
    (D, "yolov26"): decode_nms_free_detection,
    (D, "yolo_nas"): decode_yolo_nas_detection,
    (D, "rfdetr"): decode_rfdetr_detection,
    (S, "yolov5"): decode_yolov5_segmentation,
    (S, "yolov7"): decode_yolov5_segmentation,
    (S, "yolov8"): decode_yolov8_segmentation,
    (S, "yolov11"): decode_yolov8_segmentation,
    (S, "yolov26"): decode_nms_free_segmentation,
    (S, "rfdetr"): decode_rfdetr_segmentation,
    (K, "yolov8"): decode_yolov8_keypoints,
    (K, "yolov11"): decode_yolov8_keypoints,
    (K, "yolov26"): decode_nms_free_keypoints,
}

# Tasks whose output is the same whatever the family: every classification export ends
# in one logit per class, be it a YOLO, ResNet or ViT backbone.
_TASK_DECODERS: dict[Task, AnyDecoder] = {Task.CLASSIFICATION: decode_classification}


def decoder_for(spec: ModelSpec) -> AnyDecoder:
    family = model_family(spec.model_type)
    decoder = _DECODERS.get((spec.task, family)) or _TASK_DECODERS.get(spec.task)
    if decoder is None:
        raise ModelLoadError(
            f"Model {spec.model_id}: no decoder for task {spec.task.value!r} "
            f"and model type {spec.model_type!r}"
        )
    return decoder
