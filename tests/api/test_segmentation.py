"""/infer/instance_segmentation against fixture models whose masks are known exactly.

Fixture boxes and mask shapes are in network-input pixels (tools/fixtures/heads.py):
the red boxes' masks are a rectangle that reaches past their left edge, the blue box's
a disc. Answers come in original-image pixels; the tests map them back into the
network-input frame with resize geometry worked out by hand, and compare there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import httpx
import numpy as np
import pytest

from tests.support import LETTERBOXED, STRETCHED, Resized, b64_image, box_of, solid_image
from tools.fixtures.heads import BOXES, DISC, OBJECTNESS, PROTOTYPE_STRIDE, RECTANGLE

ROUTE = "/infer/instance_segmentation"


@dataclass(frozen=True)
class Model:
    model_id: str
    size: Resized
    """The image each test sends and how it lands in the network input."""
    score_factor: float = 1.0
    """YOLOv5 rows score objectness (0.8) × class score."""

    @property
    def score(self) -> float:
        return self.size.channel_mean * self.score_factor


MODELS = [
    Model("fixture-yolov8-seg/1", LETTERBOXED),
    Model("fixture-yolov8-seg/2", STRETCHED),
    Model("fixture-yolov5-seg/1", LETTERBOXED, OBJECTNESS),
    Model("fixture-yolov5-seg/2", STRETCHED, OBJECTNESS),  # modelType yolov7-seg
]
# Mask pixel size in input pixels, per mode, on a 320 px axis (prototypes: 80 px).
MODES = {"accurate": 1.0, "fast": 4.0, "tradeoff": 320 / 200}


def segment(client: httpx.Client, m: Model, **params: object) -> list[dict]:
    """Predictions for a full red and blue image."""
    image = solid_image(m.size.width, m.size.height, (255, 0, 255))
    r = client.post(ROUTE, json={"model_id": m.model_id, "image": b64_image(image), **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": m.size.width, "height": m.size.height}
    return body["predictions"]


def outline(m: Model, prediction: dict) -> np.ndarray:
    """The prediction's polygon in network-input pixels, [P, 2]."""
    points = [[p["x"], p["y"]] for p in prediction["points"]]
    return m.size.to_input(np.reshape(points, (-1, 2)))


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.model_id)
def test_boxes_and_outlines_match_the_fixture_geometry(
    client: httpx.Client, m: Model, mode: str
) -> None:
    predictions = segment(client, m, mask_decode_mode=mode, tradeoff_factor=0.5)
    red, blue = sorted(predictions, key=lambda p: p["class_id"])
    assert len(predictions) == 2, "the overlapping weaker red box must be suppressed"
    for prediction, box in ((red, BOXES[0]), (blue, BOXES[2])):
        assert prediction["confidence"] == pytest.approx(m.score, abs=2e-3)
        assert box_of(prediction) == pytest.approx(m.size.box_to_original(box.xyxy), abs=0.02)
    # Outline points are mask pixel centres: half a mask pixel inside the true edge.
    tolerance = MODES[mode] / 2 + 0.75
    red_outline = outline(m, red)
    cut_to_box = (max(RECTANGLE.x1, BOXES[0].xyxy[0]), RECTANGLE.y1, RECTANGLE.x2, RECTANGLE.y2)
    bounds = (*red_outline.min(axis=0), *red_outline.max(axis=0))
    assert bounds == pytest.approx(cut_to_box, abs=tolerance)
    radii = np.hypot(*(outline(m, blue) - [DISC.cx, DISC.cy]).T)
    assert radii == pytest.approx(np.full_like(radii, DISC.radius), abs=tolerance + 1)


@pytest.mark.parametrize(("mode", "step"), sorted(MODES.items()))
def test_decode_mode_sets_the_mask_resolution(client: httpx.Client, mode: str, step: float) -> None:
    """Outline points sit on mask pixel centres, (i + 0.5) × step in input pixels, so
    their grid shows the resolution each mode decoded at."""
    m = MODELS[0]
    predictions = segment(client, m, mask_decode_mode=mode, tradeoff_factor=0.5)
    points = np.concatenate([outline(m, p) for p in predictions])
    cells = points / step - 0.5
    assert np.abs(cells - np.round(cells)).max() < 0.01


def test_each_instance_gets_its_own_mask_cut_to_its_own_box(client: httpx.Client) -> None:
    # At IoU 0.7 both red boxes survive NMS; the second starts 20 px further right.
    m = MODELS[0]
    predictions = segment(client, m, iou_threshold=0.7, mask_decode_mode="fast")
    reds = sorted((p for p in predictions if p["class_id"] == 0), key=lambda p: p["x"])
    assert len(reds) == 2
    left_edges = [outline(m, p)[:, 0].min() for p in reds]
    starts = [max(RECTANGLE.x1, box.xyxy[0]) for box in BOXES[:2]]
    assert left_edges == pytest.approx(starts, abs=PROTOTYPE_STRIDE / 2 + 0.5)


def test_outline_area_is_the_mask_area(client: httpx.Client) -> None:
    m = MODELS[0]
    predictions = segment(client, m)
    blue = next(p for p in predictions if p["class_id"] == 1)
    area = cv2.contourArea(outline(m, blue).astype(np.float32))
    # The polygon through boundary pixel centres is half a pixel inside the disc.
    assert area == pytest.approx(np.pi * (DISC.radius - 0.5) ** 2, rel=0.05)


def test_filters_and_thresholds_apply_as_for_detection(client: httpx.Client) -> None:
    m = MODELS[0]  # every box scores 0.75
    only_blue = segment(client, m, class_filter=["blue-thing"])
    assert [p["class"] for p in only_blue] == ["blue-thing"] and only_blue[0]["points"]
    assert segment(client, m, confidence=0.8) == []
    assert len(segment(client, m, max_detections=1)) == 1


def test_segmentation_alias_route_answers_the_same(client: httpx.Client) -> None:
    m = MODELS[0]
    image = b64_image(solid_image(m.size.width, m.size.height, (255, 0, 255)))
    body = {"model_id": m.model_id, "image": image, "mask_decode_mode": "fast"}
    a = client.post(ROUTE, json=body).json()["predictions"]
    b = client.post("/infer/segmentation", json=body).json()["predictions"]
    assert [p["points"] for p in a] == [p["points"] for p in b]


def test_nms_free_yolo26_keeps_every_instance_with_its_mask_cut_to_its_box(
    client: httpx.Client,
) -> None:
    m = Model("fixture-yolo26-seg/1", LETTERBOXED)
    predictions = segment(client, m, mask_decode_mode="fast")
    reds = sorted((p for p in predictions if p["class_id"] == 0), key=lambda p: p["x"])
    (blue,) = [p for p in predictions if p["class_id"] == 1]
    assert len(reds) == 2, "no NMS: the overlapping weaker box stays"
    assert [p["confidence"] for p in reds] == pytest.approx([0.75, 0.675], abs=2e-3)
    for prediction, box in zip(reds, BOXES[:2], strict=True):
        assert box_of(prediction) == pytest.approx(m.size.box_to_original(box.xyxy), abs=0.02)
        left = outline(m, prediction)[:, 0].min()
        assert left == pytest.approx(max(RECTANGLE.x1, box.xyxy[0]), abs=PROTOTYPE_STRIDE)
    radii = np.hypot(*(outline(m, blue) - [DISC.cx, DISC.cy]).T)
    assert radii == pytest.approx(np.full_like(radii, DISC.radius), abs=PROTOTYPE_STRIDE)
