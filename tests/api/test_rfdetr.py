"""RF-DETR detection and segmentation through HTTP, against fixture logits worked out by hand.

The fixture (tools/fixtures/heads.py ``rfdetr``) has a query per fixture box whose
class logit is RFDETR_GAIN × its channel's mean as the network sees it (after ImageNet
normalisation) + its bias, query 0 also scoring blue-thing from the red channel, and
two queries that must never be reported (one confidently background, in the
one-indexed export). Every (query, class) pair is a candidate; there is no NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from tests.support import LETTERBOXED, STRETCHED, Resized, b64_image, box_of, solid_image
from tools.fixtures.heads import (
    BOXES,
    DISC,
    PROTOTYPE_STRIDE,
    RECTANGLE,
    RFDETR_BIAS,
    RFDETR_EXTRA_CLASS,
    RFDETR_GAIN,
)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
RED_AND_BLUE = (255, 0, 255)  # BGR


@dataclass(frozen=True)
class Expected:
    class_id: int
    xyxy: tuple[float, ...]
    """Network-input pixels."""
    score: float


def expected(size: Resized) -> list[Expected]:
    """Every pair the fixture reports for a full red and blue image, best first."""
    raw = np.array([size.channel_mean, 0.0, size.channel_mean])  # R, G, B means
    seen = (raw - IMAGENET_MEAN) / IMAGENET_STD

    def sigmoid(x: float) -> float:
        return float(1 / (1 + np.exp(-x)))

    pairs = [
        Expected(b.class_id, b.xyxy, sigmoid(RFDETR_GAIN * seen[b.channel] + RFDETR_BIAS[j]))
        for j, b in enumerate(BOXES)
    ]
    extra = sigmoid(RFDETR_GAIN * seen[0] + RFDETR_BIAS[0] - 2.0)
    pairs.append(Expected(RFDETR_EXTRA_CLASS, BOXES[0].xyxy, extra))
    return sorted(pairs, key=lambda p: -p.score)


def infer(client: httpx.Client, route: str, model_id: str, size: Resized, **params: object):
    image = b64_image(solid_image(size.width, size.height, RED_AND_BLUE))
    r = client.post(route, json={"model_id": model_id, "image": image, **params})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


MODELS = [("1", LETTERBOXED), ("2", STRETCHED), ("3", LETTERBOXED)]  # 3: one-indexed


@pytest.mark.parametrize(("version", "size"), MODELS)
def test_every_query_class_pair_above_the_threshold_is_reported(
    client: httpx.Client, version: str, size: Resized
) -> None:
    predictions = infer(client, "/infer/object_detection", f"fixture-rfdetr/{version}", size)
    want = expected(size)
    assert [p["class_id"] for p in predictions] == [e.class_id for e in want]
    for prediction, e in zip(predictions, want, strict=True):
        # Scores follow ImageNet-normalised input: unnormalised, red would score 0.85.
        assert prediction["confidence"] == pytest.approx(e.score, abs=2e-3)
        assert prediction["class"] == ("red-thing", "blue-thing")[e.class_id]
        assert box_of(prediction) == pytest.approx(size.box_to_original(e.xyxy), abs=0.02)


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"confidence": 0.7}, 3),  # query 0's second class scores 0.54
        ({"max_detections": 2}, 2),
        ({"class_filter": ["red-thing"]}, 2),
        ({"confidence": 0.95}, 0),
    ],
)
def test_thresholds_and_filters(client: httpx.Client, params: dict, count: int) -> None:
    predictions = infer(
        client, "/infer/object_detection", "fixture-rfdetr/1", LETTERBOXED, **params
    )
    want = [e for e in expected(LETTERBOXED) if e.score >= params.get("confidence", 0.4)]
    if "class_filter" in params:
        want = [e for e in want if e.class_id == 0]
    assert len(predictions) == count
    assert [p["confidence"] for p in predictions] == pytest.approx(
        [e.score for e in want[:count]], abs=2e-3
    )


@pytest.mark.parametrize(("version", "size"), MODELS)
@pytest.mark.parametrize(("mode", "step"), [("accurate", 1.0), ("fast", PROTOTYPE_STRIDE)])
def test_masks_are_the_querys_own_and_not_cut_to_its_box(
    client: httpx.Client, version: str, size: Resized, mode: str, step: float
) -> None:
    predictions = infer(
        client,
        "/infer/instance_segmentation",
        f"fixture-rfdetr-seg/{version}",
        size,
        mask_decode_mode=mode,
    )
    assert [p["class_id"] for p in predictions] == [e.class_id for e in expected(size)]
    tolerance = step / 2 + 0.75
    for prediction, e in zip(predictions, expected(size), strict=True):
        outline = size.to_input(np.array([[p["x"], p["y"]] for p in prediction["points"]]))
        if e.xyxy == BOXES[2].xyxy:  # the blue box's mask is the disc
            radii = np.hypot(*(outline - [DISC.cx, DISC.cy]).T)
            assert radii == pytest.approx(np.full_like(radii, DISC.radius), abs=tolerance + 1)
        else:  # a red box's mask is the whole rectangle, which reaches left of the box
            bounds = (*outline.min(axis=0), *outline.max(axis=0))
            rectangle = (RECTANGLE.x1, RECTANGLE.y1, RECTANGLE.x2, RECTANGLE.y2)
            assert bounds == pytest.approx(rectangle, abs=tolerance)
            assert bounds[0] < e.xyxy[0] - 10
