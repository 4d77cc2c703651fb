"""The decoder registry: model types → families → decoders, never shapes."""

from __future__ import annotations

import pytest

from serve_app.core.families import model_family
from serve_app.core.ids import ModelId, Task
from serve_app.core.spec import ModelSpec
from serve_app.decoders.classification import decode_classification
from serve_app.decoders.nms_free import (
    decode_nms_free_detection,
    decode_nms_free_keypoints,
    decode_nms_free_segmentation,
)
from serve_app.decoders.registry import decoder_for
from serve_app.decoders.rfdetr import decode_rfdetr_detection, decode_rfdetr_segmentation
from serve_app.decoders.yolo_nas import decode_yolo_nas_detection
from serve_app.decoders.yolov5 import decode_yolov5_detection, decode_yolov5_segmentation
from serve_app.decoders.yolov8 import (
    decode_yolov8_detection,
    decode_yolov8_keypoints,
    decode_yolov8_segmentation,
)
from serve_app.errors import ModelLoadError


@pytest.mark.parametrize(
    ("model_type", "family"),
    [
        ("yolov8n", "yolov8"),
        ("yolov8s-640", "yolov8"),
        ("yolov8n-seg", "yolov8"),
        ("yolo11s", "yolov11"),
        ("yolov11m-seg", "yolov11"),
        ("YOLOv12x", "yolov12"),
        ("yolov10n", "yolov10"),
        ("yolov5s", "yolov5"),
        ("yolov5l-seg", "yolov5"),
        ("yolov7-seg", "yolov7"),
        ("yolo_nas_s", "yolo_nas"),
        ("yolo-nas-m", "yolo_nas"),
        ("yolonas", "yolo_nas"),
        ("yolov9", "yolov9"),
        ("yolo26n", "yolov26"),
        ("yolo26s-seg", "yolov26"),
        ("yolo26m-pose", "yolov26"),
        ("yolov8n-pose", "yolov8"),
        ("rfdetr-base", "rfdetr"),
        ("rfdetr-seg-small", "rfdetr"),
        ("rfdetr-nas", "rfdetr"),
        ("vit", "vit"),
        ("resnet50-cls", "resnet"),
        ("resnet18", "resnet"),
    ],
)
def test_model_family(model_type: str, family: str) -> None:
    assert model_family(model_type) == family


def package(task: Task, model_type: str) -> ModelSpec:
    return ModelSpec(
        model_id=ModelId("m", "1"),
        task=task,
        model_type=model_type,
        class_names=("a",),
        input_width=32,
        input_height=32,
        batch_size=None,
    )


D, S, C = Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION, Task.CLASSIFICATION
K = Task.KEYPOINT_DETECTION


@pytest.mark.parametrize(
    ("task", "model_type", "decoder"),
    [
        (D, "yolov8n", decode_yolov8_detection),
        (D, "yolo11n", decode_yolov8_detection),
        (D, "yolov12s", decode_yolov8_detection),
        (D, "yolov5s", decode_yolov5_detection),
        (D, "yolov10n", decode_nms_free_detection),
        (D, "yolov9", decode_yolov8_detection),
        (D, "yolo26n", decode_nms_free_detection),
        (D, "rfdetr-base", decode_rfdetr_detection),
        (D, "rfdetr-nano", decode_rfdetr_detection),
        (S, "yolo26n-seg", decode_nms_free_segmentation),
        (S, "rfdetr-seg-preview", decode_rfdetr_segmentation),
        (K, "yolov8n-pose", decode_yolov8_keypoints),
        (K, "yolo11s-pose", decode_yolov8_keypoints),
        (K, "yolo26n-pose", decode_nms_free_keypoints),
        (D, "yolo_nas_l", decode_yolo_nas_detection),
        (S, "yolov8n-seg", decode_yolov8_segmentation),
        (S, "yolo11n-seg", decode_yolov8_segmentation),
        (S, "yolov5s-seg", decode_yolov5_segmentation),
        (S, "yolov7-seg", decode_yolov5_segmentation),
        (C, "yolov8n-cls", decode_classification),
        (C, "vit", decode_classification),
        (C, "resnet50", decode_classification),
    ],
)
def test_task_and_type_choose_the_decoder(task: Task, model_type: str, decoder: object) -> None:
    assert decoder_for(package(task, model_type)) is decoder


@pytest.mark.parametrize(
    ("task", "model_type"),
    [(D, "yolact"), (S, "yolov10n"), (S, "yolo_nas_s"), (K, "yolov5s"), (D, "")],
)
def test_unknown_combinations_fail_at_load_with_a_clear_message(
    task: Task, model_type: str
) -> None:
    with pytest.raises(ModelLoadError, match="no decoder for task"):
        decoder_for(package(task, model_type))
