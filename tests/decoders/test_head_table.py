"""The head table as data: every row decodes a head of its layout on the host, and
every row that names a device layout decodes a random head output on the device (torch
on CPU) as its host decoder does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from serve_app.core.frames import FrameTransform
from serve_app.core.ids import ModelId, Task
from serve_app.core.predictions import Classification, Detections
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ModelSpec
from serve_app.decoders import classification, nms_free, rfdetr, yolo_nas, yolov5, yolov8
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import ANY_FAMILY, HEADS, AnyDecoder, Head
from serve_app.device.decoding import device_decoder_for

CLASSES = ("a", "b", "c")
KEYPOINTS = (("k0", "k1"),) * len(CLASSES)
SIZE = 64
"""Network input width and height."""
N, K, PROTO = 48, 8, 16
"""Candidates, mask coefficients, prototype size."""
FRAME = FrameTransform(160, 120, scale_x=SIZE / 160, scale_y=SIZE / 120)
PARAMS = InferenceParams(confidence=0.3)
Outputs = list[np.ndarray]


def _cxcywh(rng: np.random.Generator, scale: float = SIZE) -> np.ndarray:
    centres = rng.uniform(0.2, 0.8, (N, 2)) * scale
    sizes = rng.uniform(0.05, 0.4, (N, 2)) * scale
    return np.concatenate([centres, sizes], axis=1)


def _xyxy(rng: np.random.Generator) -> np.ndarray:
    box = _cxcywh(rng)
    return np.concatenate([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], axis=1)


def _scores(rng: np.random.Generator, columns: int) -> np.ndarray:
    return rng.uniform(0, 1, (N, columns))


def _prototypes(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, 3, (K, PROTO, PROTO))


def _keypoints(rng: np.random.Generator) -> np.ndarray:
    points = len(KEYPOINTS[0])
    xy = rng.uniform(0, SIZE, (N, points, 2))
    return np.concatenate([xy, rng.uniform(0, 1, (N, points, 1))], axis=2).reshape(N, -1)


def _nms_free(rng: np.random.Generator, extra: np.ndarray | None = None) -> np.ndarray:
    class_id = rng.integers(0, len(CLASSES), (N, 1))
    parts = [_xyxy(rng), rng.uniform(0, 1, (N, 1)), class_id]
    return np.concatenate(parts + ([] if extra is None else [extra]), axis=1)


def _yolov8(rng: np.random.Generator, extra: np.ndarray | None = None) -> np.ndarray:
    parts = [_cxcywh(rng), _scores(rng, len(CLASSES))]
    return np.concatenate(parts + ([] if extra is None else [extra]), axis=1).T


def _yolov5(rng: np.random.Generator, extra: np.ndarray | None = None) -> np.ndarray:
    parts = [_cxcywh(rng), _scores(rng, 1), _scores(rng, len(CLASSES))]
    return np.concatenate(parts + ([] if extra is None else [extra]), axis=1)


def _rfdetr(rng: np.random.Generator) -> Outputs:
    return [_cxcywh(rng, 1.0), rng.normal(-1, 2, (N, len(CLASSES)))]


# One random head output per image, by the decoder that reads it: a row whose decoder
# is missing here fails the first test, so a new head cannot join the table untested.
OUTPUTS: dict[AnyDecoder, Callable[[np.random.Generator], Outputs]] = {
    yolov8.decode_yolov8_detection: lambda r: [_yolov8(r)],
    yolov8.decode_yolov8_segmentation: lambda r: [
        _yolov8(r, r.normal(0, 1, (N, K))),
        _prototypes(r),
    ],
    yolov8.decode_yolov8_keypoints: lambda r: [_yolov8(r, _keypoints(r))],
    yolov5.decode_yolov5_detection: lambda r: [_yolov5(r)],
    yolov5.decode_yolov5_segmentation: lambda r: [
        _yolov5(r, r.normal(0, 1, (N, K))),
        _prototypes(r),
    ],
    nms_free.decode_nms_free_detection: lambda r: [_nms_free(r)],
    nms_free.decode_nms_free_segmentation: lambda r: [
        _nms_free(r, r.normal(0, 1, (N, K))),
        _prototypes(r),
    ],
    nms_free.decode_nms_free_keypoints: lambda r: [_nms_free(r, _keypoints(r))],
    yolo_nas.decode_yolo_nas_detection: lambda r: [_xyxy(r), _scores(r, len(CLASSES))],
    rfdetr.decode_rfdetr_detection: _rfdetr,
    rfdetr.decode_rfdetr_segmentation: lambda r: [*_rfdetr(r), r.normal(0, 3, (N, PROTO, PROTO))],
    classification.decode_classification: lambda r: [r.normal(0, 2, (len(CLASSES),))],
}


def _spec(task: Task, family: str) -> ModelSpec:
    return ModelSpec(
        model_id=ModelId("table", "1"),
        task=task,
        model_type="yolov8n-cls" if family == ANY_FAMILY else family,
        class_names=CLASSES,
        input_width=SIZE,
        input_height=SIZE,
        batch_size=None,
        keypoint_names=KEYPOINTS if task is Task.KEYPOINT_DETECTION else (),
    )


ROWS = sorted(HEADS.items(), key=lambda item: (item[0][0].value, item[0][1]))
IDS = [f"{task.value}-{family}" for (task, family), _ in ROWS]
DEVICE_ROWS = [(key, head) for key, head in ROWS if head.device is not None]


@pytest.mark.parametrize(("key", "head"), ROWS, ids=IDS)
def test_every_row_decodes_a_head_of_its_layout_on_the_host(
    key: tuple[Task, str], head: Head
) -> None:
    task, family = key
    spec = _spec(task, family)
    outputs = OUTPUTS[head.decode](np.random.default_rng(0))
    prediction = head.decode(
        [o.astype(np.float32) for o in outputs], FRAME, PARAMS, ModelHead.from_spec(spec)
    )
    if task is Task.CLASSIFICATION:
        assert isinstance(prediction, Classification) and len(prediction.scores) == len(CLASSES)
        return
    assert isinstance(prediction, Detections) and len(prediction) > 0
    assert (prediction.polygons is not None) == (task is Task.INSTANCE_SEGMENTATION)
    assert (prediction.keypoints is not None) == (task is Task.KEYPOINT_DETECTION)


@pytest.mark.parametrize(
    ("key", "head"), DEVICE_ROWS, ids=[f"{t.value}-{f}" for (t, f), _ in DEVICE_ROWS]
)
@pytest.mark.parametrize("seed", [1, 2])
def test_every_device_row_decodes_as_its_host_row(
    key: tuple[Task, str], head: Head, seed: int
) -> None:
    spec = _spec(*key)
    model_head = ModelHead.from_spec(spec)
    decoder = device_decoder_for(spec)
    assert decoder is not None
    rng = np.random.default_rng(seed)
    images = [[o.astype(np.float32) for o in OUTPUTS[head.decode](rng)] for _ in range(2)]
    batched = [torch.from_numpy(np.stack(parts)) for parts in zip(*images, strict=True)]
    assert decoder.fits(batched, model_head)
    got = decoder(batched, [FRAME, FRAME], [PARAMS, PARAMS], model_head)
    for outputs, on_device in zip(images, got, strict=True):
        want = head.decode(outputs, FRAME, PARAMS, model_head)
        assert isinstance(want, Detections) and len(want) > 0
        assert on_device.class_id.tolist() == want.class_id.tolist()
        np.testing.assert_allclose(on_device.xyxy, want.xyxy, atol=1e-3)
        np.testing.assert_allclose(on_device.confidence, want.confidence, atol=1e-5)
        assert len(on_device.polygons or []) == len(want.polygons or [])


def test_no_row_names_a_device_layout_for_a_task_the_device_path_does_not_decode() -> None:
    decodable = {Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION}
    assert {task for (task, _), head in HEADS.items() if head.device} <= decodable
