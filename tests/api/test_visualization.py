"""``visualize_predictions`` on /infer/object_detection: a JPEG of the client's image,
at its size, with each class's boxes in its colour (the model's COLORS, else the
palette)."""

from __future__ import annotations

import base64

import cv2
import httpx
import numpy as np
import pytest

from serve_app.preprocessing.visualization import PALETTE, hex_to_bgr
from tests.fixtures_preprocessing import CLASS_COLORS
from tests.support import b64_image, box_of, solid_image

ROUTE = "/infer/object_detection"
# 640x480 letterboxed to 320x320: the red-thing box lands on (120, 60)-(280, 180).
IMAGE = solid_image(640, 480, (255, 0, 255))
RED_BOX_LEFT_EDGE = (120, 120)  # (y, x): middle of the box's left side
JPEG_TOLERANCE = 40


def visualize(client: httpx.Client, model_id: str, **params: object) -> tuple[dict, np.ndarray]:
    body = {"model_id": model_id, "image": b64_image(IMAGE), "visualize_predictions": True}
    r = client.post(ROUTE, json={**body, **params})
    assert r.status_code == 200, r.text
    answer = r.json()
    jpeg = np.frombuffer(base64.b64decode(answer["visualization"]), np.uint8)
    drawn = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert drawn is not None, "visualization is not a decodable JPEG"
    return answer, drawn


def assert_color(pixel: np.ndarray, bgr: tuple[int, int, int]) -> None:
    assert np.abs(pixel.astype(int) - bgr).max() <= JPEG_TOLERANCE, (pixel, bgr)


def test_boxes_drawn_in_palette_colours_on_the_original_image(client: httpx.Client) -> None:
    answer, drawn = visualize(client, "fixture-yolov8/1", visualization_stroke_width=5)
    assert drawn.shape == IMAGE.shape
    assert {p["class"] for p in answer["predictions"]} == {"red-thing", "blue-thing"}
    assert_color(drawn[RED_BOX_LEFT_EDGE], hex_to_bgr(PALETTE[0]))
    assert_color(drawn[10, 10], (255, 0, 255))  # far from every box: the image itself


def test_model_colors_win_over_the_palette(preprocessing_client: httpx.Client) -> None:
    _, drawn = visualize(preprocessing_client, "pre-colors/1", visualization_stroke_width=5)
    assert_color(drawn[RED_BOX_LEFT_EDGE], hex_to_bgr(CLASS_COLORS["red-thing"]))


def test_labels_are_drawn_above_the_box(client: httpx.Client) -> None:
    _, plain = visualize(client, "fixture-yolov8/1")
    _, labelled = visualize(client, "fixture-yolov8/1", visualization_labels=True)
    tag_pixel = (55, 121)  # just above the red box's top-left corner (120, 60)
    assert_color(plain[tag_pixel], (255, 0, 255))
    assert_color(labelled[tag_pixel], hex_to_bgr(PALETTE[0]))


@pytest.mark.parametrize("params", [{}, {"visualize_predictions": False}])
def test_no_visualization_unless_asked(client: httpx.Client, params: dict) -> None:
    r = client.post(
        ROUTE, json={"model_id": "fixture-yolov8/1", "image": b64_image(IMAGE), **params}
    )
    assert r.status_code == 200, r.text
    assert "visualization" not in r.json()


def test_segmentation_outlines_are_drawn(client: httpx.Client) -> None:
    r = client.post(
        "/infer/instance_segmentation",
        json={
            "model_id": "fixture-yolov8-seg/1",
            "image": b64_image(IMAGE),
            "visualize_predictions": True,
            "visualization_stroke_width": 5,
        },
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(answer["visualization"]), np.uint8), 1)
    red = next(p for p in answer["predictions"] if p["class"] == "red-thing")
    x1, y1, x2, y2 = box_of(red)
    # The outline's vertex farthest from the box's sides: only the outline passes there.
    vertex = max(
        ((p["x"], p["y"]) for p in red["points"]),
        key=lambda v: min(abs(v[0] - x1), abs(v[0] - x2), abs(v[1] - y1), abs(v[1] - y2)),
    )
    assert (
        min(abs(vertex[0] - x1), abs(vertex[0] - x2), abs(vertex[1] - y1), abs(vertex[1] - y2)) > 10
    )
    assert_color(drawn[round(vertex[1]), round(vertex[0])], hex_to_bgr(PALETTE[0]))
