"""The decoder registry: model types → families → decoders, never shapes."""

from __future__ import annotations

import pytest

from serve_app.core.ids import ModelId, Task
from serve_app.core.spec import ModelSpec
from serve_app.decoders.classification import decode_classification
from serve_app.decoders.registry import decoder_for, model_family
from serve_app.decoders.yolo_nas import decode_yolo_nas_detection
from serve_app.decoders.yolov5 import decode_yolov5_detection, decode_yolov5_segmentation
from serve_app.decoders.yolov8 import decode_yolov8_detection, decode_yolov8_segmentation
from serve_app.decoders.yolov10 import decode_yolov10_detection
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
        ("vit", "vit"),
        ("resnet50-cls", "resnet50"),
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


@pytest.mark.parametrize(
    ("task", "model_type", "decoder"),
    [
        (D, "yolov8n", decode_yolov8_detection),
        (D, "yolo11n", decode_yolov8_detection),
        (D, "yolov12s", decode_yolov8_detection),
        (D, "yolov5s", decode_yolov5_detection),
        (D, "yolov10n", decode_yolov10_detection),
        (D, "yolo_nas_l", decode_yolo_nas_detection),
        (S, "yolov8n-seg", decode_yolov8_segmentation),
        (S, "yolo11n-seg", decode_yolov8_segmentation),
        (S, "yolov5s-seg", decode_yolov5_segmentation),
        (S, "yolov7-seg", decode_yolov5_segmentation),
        (C, "yolov8n-cls", decode_classification),
        (C, "vit", decode_classification),
    ],
)
def test_task_and_type_choose_the_decoder(task: Task, model_type: str, decoder: object) -> None:
    assert decoder_for(package(task, model_type)) is decoder


@pytest.mark.parametrize(
    ("task", "model_type"),
    [(D, "rfdetr-base"), (S, "yolov10n"), (S, "yolo_nas_s"), (D, "")],
)
def test_unknown_combinations_fail_at_load_with_a_clear_message(
    task: Task, model_type: str
) -> None:
    with pytest.raises(ModelLoadError, match="no decoder for task"):
        decoder_for(package(task, model_type))
