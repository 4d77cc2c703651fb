"""/infer/keypoints_detection (and the classic route) on pose fixtures known exactly.

Each fixture box carries three keypoints at fixed offsets from its centre with
confidences 0.9, 0.2 and 0.7 (tools/fixtures/heads.py); the model's
keypoints_metadata.json names three for red-thing and two for blue-thing, so blue's
third is padding that must not be reported. Version 1 is letterboxed, 2 stretched.
"""

from __future__ import annotations

import base64

import cv2
import httpx
import numpy as np
import pytest

from tests.support import LETTERBOXED, STRETCHED, Resized, b64_image, box_of, png_b64, solid_image
from tools.fixtures.heads import BOXES, KEYPOINT_NAMES, box_keypoints

ROUTE = "/infer/keypoints_detection"
RED_AND_BLUE = (255, 0, 255)  # BGR
# YOLOv8 pose runs NMS (the weaker red box goes); YOLO26 pose is NMS-free.
MODELS = {"fixture-yolov8-pose": (0, 2), "fixture-yolo26-pose": (0, 1, 2)}


def detect(client: httpx.Client, model_id: str, size: Resized, **params: object) -> list[dict]:
    image = b64_image(solid_image(size.width, size.height, RED_AND_BLUE))
    r = client.post(ROUTE, json={"model_id": model_id, "image": image, **params})
    assert r.status_code == 200, r.text
    assert r.json()["image"] == {"width": size.width, "height": size.height}
    return sorted(r.json()["predictions"], key=lambda p: (p["class_id"], p["x"]))


def to_original(size: Resized, x: float, y: float) -> tuple[float, float]:
    return x / size.scale_x, (y - size.pad_y) / size.scale_y


@pytest.mark.parametrize("dataset", sorted(MODELS))
@pytest.mark.parametrize(("version", "size"), [("1", LETTERBOXED), ("2", STRETCHED)])
def test_each_object_carries_its_named_keypoints_in_original_pixels(
    client: httpx.Client, dataset: str, version: str, size: Resized
) -> None:
    predictions = detect(client, f"{dataset}/{version}", size)
    boxes = [BOXES[i] for i in MODELS[dataset]]
    assert len(predictions) == len(boxes)
    for prediction, box in zip(predictions, boxes, strict=True):
        assert prediction["class_id"] == box.class_id
        assert box_of(prediction) == pytest.approx(size.box_to_original(box.xyxy), abs=0.02)
        names = KEYPOINT_NAMES[box.class_id]
        assert [k["class"] for k in prediction["keypoints"]] == list(names)
        assert [k["class_id"] for k in prediction["keypoints"]] == list(range(len(names)))
        for keypoint, (x, y, confidence) in zip(
            prediction["keypoints"], box_keypoints(box), strict=False
        ):
            assert (keypoint["x"], keypoint["y"]) == pytest.approx(
                to_original(size, x, y), abs=0.02
            )
            assert keypoint["confidence"] == pytest.approx(confidence, abs=1e-5)


def test_keypoint_confidence_drops_keypoints_not_objects(client: httpx.Client) -> None:
    predictions = detect(client, "fixture-yolov8-pose/1", LETTERBOXED, keypoint_confidence=0.5)
    assert [[k["class"] for k in p["keypoints"]] for p in predictions] == [
        ["left", "top"],  # "right" scores 0.2
        ["front"],
    ]


def test_boxes_follow_the_detection_options(client: httpx.Client) -> None:
    only_blue = detect(client, "fixture-yolov8-pose/1", LETTERBOXED, class_filter=["blue-thing"])
    assert [p["class"] for p in only_blue] == ["blue-thing"]
    assert detect(client, "fixture-yolov8-pose/1", LETTERBOXED, confidence=0.8) == []


def test_classic_route_answers_keypoints_too(client: httpx.Client) -> None:
    image = solid_image(LETTERBOXED.width, LETTERBOXED.height, RED_AND_BLUE)
    r = client.post(
        "/fixture-yolov8-pose/1?keypoint_confidence=0.5",
        content=png_b64(image),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    predictions = sorted(r.json()["predictions"], key=lambda p: p["class_id"])
    assert [[k["class"] for k in p["keypoints"]] for p in predictions] == [
        ["left", "top"],
        ["front"],
    ]


def test_drawing_marks_each_keypoint(client: httpx.Client) -> None:
    image = solid_image(LETTERBOXED.width, LETTERBOXED.height, RED_AND_BLUE)
    body = {"model_id": "fixture-yolov8-pose/1", "image": b64_image(image)}
    r = client.post(ROUTE, json={**body, "visualize_predictions": True})
    assert r.status_code == 200, r.text
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(r.json()["visualization"]), np.uint8), 1)
    for prediction in r.json()["predictions"]:
        for k in prediction["keypoints"]:
            x, y = round(k["x"]), round(k["y"])
            assert np.abs(drawn[y, x].astype(int) - RED_AND_BLUE).max() > 60, (x, y)


@pytest.mark.parametrize(
    ("route", "model_id"),
    [(ROUTE, "fixture-yolov8/1"), ("/infer/object_detection", "fixture-yolov8-pose/1")],
)
def test_a_route_refuses_models_of_another_task(
    client: httpx.Client, route: str, model_id: str
) -> None:
    image = b64_image(solid_image(64, 64, RED_AND_BLUE))
    r = client.post(route, json={"model_id": model_id, "image": image})
    assert r.status_code == 400, r.text
    assert "cannot serve" in r.json()["message"]
