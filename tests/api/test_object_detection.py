"""/infer/object_detection against fixture models whose answers are known exactly.

Fixture boxes are in network-input pixels (see tools/fixtures/heads.py); expected
original-image boxes are worked out here by hand from the resize geometry.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support import b64_image, box_of, npy_b64, solid_image

ROUTE = "/infer/object_detection"


def infer(client: httpx.Client, model_id: str, image: object, **params: object) -> httpx.Response:
    return client.post(ROUTE, json={"model_id": model_id, "image": image, **params})


def by_class(predictions: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in predictions:
        out.setdefault(p["class"], []).append(p)
    return out


def test_letterbox_maps_boxes_back_to_original_pixels(client: httpx.Client) -> None:
    # 640x480 into 320x320: scale 0.5, 40 px of black above and below.
    image = solid_image(640, 480, (255, 0, 255))  # BGR: full blue and red
    r = infer(client, "fixture-yolov8/1", b64_image(image))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": 640, "height": 480}
    groups = by_class(body["predictions"])
    assert len(groups["red-thing"]) == 1, "the overlapping weaker box must be suppressed"
    red, blue = groups["red-thing"][0], groups["blue-thing"][0]
    assert box_of(red) == pytest.approx((120, 60, 280, 180), abs=0.01)
    assert box_of(blue) == pytest.approx((390, 230, 490, 410), abs=0.01)
    # Scores are channel means over the padded input: 240 of 320 rows hold the image.
    assert red["confidence"] == pytest.approx(0.75, abs=1e-3)
    assert red["class_id"] == 0 and blue["class_id"] == 1
    assert red["detection_id"] != blue["detection_id"]
    assert body["inference_id"] and body["time"] > 0


def test_stretch_with_symbolic_input_size_uses_environment_resize(client: httpx.Client) -> None:
    # Model 2 has symbolic H/W; environment.json says stretch to 320x256.
    image = solid_image(800, 400, (0, 0, 204))  # red 0.8
    r = infer(client, "fixture-yolov8/2", b64_image(image))
    assert r.status_code == 200, r.text
    (red,) = r.json()["predictions"]
    sx, sy = 320 / 800, 256 / 400
    assert box_of(red) == pytest.approx((60 / sx, 70 / sy, 140 / sx, 130 / sy), abs=0.01)
    assert red["confidence"] == pytest.approx(0.8, abs=2e-3)


def test_list_of_images_answers_in_order_with_fixed_batch_model(client: httpx.Client) -> None:
    reds = [230, 150, 190, 250]
    images = [b64_image(solid_image(300, 300, (0, 0, v))) for v in reds]
    r = infer(client, "fixture-yolov8/3", images)
    assert r.status_code == 200, r.text
    answers = r.json()
    assert isinstance(answers, list) and len(answers) == len(reds)
    for value, answer in zip(reds, answers, strict=True):
        (best,) = [p for p in answer["predictions"] if p["class"] == "red-thing"]
        assert best["confidence"] == pytest.approx(value / 255, abs=2e-3)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"red-thing": 1, "blue-thing": 1}),
        ({"iou_threshold": 0.7}, {"red-thing": 2, "blue-thing": 1}),  # IoU of the pair is 0.6
        ({"class_filter": ["blue-thing"]}, {"blue-thing": 1}),
        ({"class_filter": []}, {}),
        ({"max_detections": 1}, {"red-thing": 1}),
        ({"confidence": 0.99}, {}),
    ],
)
def test_thresholds_filters_and_limits(
    client: httpx.Client, params: dict[str, object], expected: dict[str, int]
) -> None:
    image = solid_image(320, 320, (200, 0, 250))  # red 0.98, blue 0.78
    r = infer(client, "fixture-yolov8/1", b64_image(image), **params)
    assert r.status_code == 200, r.text
    counts = {k: len(v) for k, v in by_class(r.json()["predictions"]).items()}
    assert counts == expected


def test_class_agnostic_nms_suppresses_across_classes(client: httpx.Client) -> None:
    # The blue box does not overlap the red ones, so class-agnostic NMS with a low
    # threshold still keeps it, while per-class NMS at 0.7 keeps both red boxes.
    image = solid_image(320, 320, (255, 0, 255))
    r = infer(
        client, "fixture-yolov8/1", b64_image(image), iou_threshold=0.7, class_agnostic_nms=True
    )
    counts = {k: len(v) for k, v in by_class(r.json()["predictions"]).items()}
    assert counts == {"red-thing": 2, "blue-thing": 1}
    r = infer(
        client, "fixture-yolov8/1", b64_image(image), iou_threshold=0.5, class_agnostic_nms=True
    )
    counts = {k: len(v) for k, v in by_class(r.json()["predictions"]).items()}
    assert counts == {"red-thing": 1, "blue-thing": 1}


def test_numpy_input_is_read_as_bgr_npy(client: httpx.Client) -> None:
    image = solid_image(320, 320, (0, 0, 255))
    r = infer(client, "fixture-yolov8/1", {"type": "numpy", "value": npy_b64(image)})
    assert r.status_code == 200, r.text
    (red,) = r.json()["predictions"]
    assert red["class"] == "red-thing" and red["confidence"] == pytest.approx(1.0, abs=1e-3)


def test_grayscale_numpy_input_is_accepted(client: httpx.Client) -> None:
    gray = np.full((100, 100), 255, np.uint8)
    r = infer(client, "fixture-yolov8/1", {"type": "numpy", "value": npy_b64(gray)})
    assert r.status_code == 200, r.text
    assert {p["class"] for p in r.json()["predictions"]} == {"red-thing", "blue-thing"}
