"""/infer/classification against fixture models whose logits follow the mean colour.

Class k of the fixture (red, green, blue) has logit GAIN × (mean of channel k − 0.5)
(tools/fixtures/heads.py); the images are solid and the models stretch, so the means
are the image's colour exactly and expected scores are computed here by hand.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support import b64_image, solid_image
from tools.fixtures.heads import CLASSIFICATION_CLASSES, CLASSIFICATION_GAIN

ROUTE = "/infer/classification"
SINGLE_LABEL = "fixture-classification/1"
MULTI_LABEL = "fixture-classification/2"
RGB = (255, 0, 128)


def logits(rgb: tuple[int, int, int]) -> np.ndarray:
    return CLASSIFICATION_GAIN * (np.array(rgb) / 255 - 0.5)


def classify(client: httpx.Client, model_id: str, rgb: tuple[int, int, int], **params: object):
    image = solid_image(200, 120, rgb[::-1])  # solid_image takes BGR
    r = client.post(ROUTE, json={"model_id": model_id, "image": b64_image(image), **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": 200, "height": 120}
    return body


@pytest.mark.parametrize(
    ("confidence", "reported"),
    [(0.4, ["red"]), (0.005, ["red", "blue"]), (0.0, ["red", "blue", "green"])],
)
def test_single_label_reports_softmax_scores_at_or_above_the_threshold(
    client: httpx.Client, confidence: float, reported: list[str]
) -> None:
    body = classify(client, SINGLE_LABEL, RGB, confidence=confidence)
    exp = np.exp(logits(RGB))
    softmax = dict(zip(CLASSIFICATION_CLASSES, exp / exp.sum(), strict=True))
    assert [p["class"] for p in body["predictions"]] == reported  # best first
    for p in body["predictions"]:
        assert p["confidence"] == pytest.approx(softmax[p["class"]], abs=1e-3)
        assert CLASSIFICATION_CLASSES[p["class_id"]] == p["class"]
    assert body["top"] == "red"
    assert body["confidence"] == pytest.approx(softmax["red"], abs=1e-3)
    assert "predicted_classes" not in body


def test_single_label_names_its_top_class_even_below_the_threshold(client: httpx.Client) -> None:
    body = classify(client, SINGLE_LABEL, (0, 200, 0), confidence=1.0)
    assert body["predictions"] == []
    assert body["top"] == "green" and 0.9 < body["confidence"] < 1.0


@pytest.mark.parametrize(("confidence", "predicted"), [(0.4, ["red", "blue"]), (0.6, ["red"])])
def test_multi_label_scores_every_class_by_its_own_sigmoid(
    client: httpx.Client, confidence: float, predicted: list[str]
) -> None:
    body = classify(client, MULTI_LABEL, RGB, confidence=confidence)
    sigmoid = 1 / (1 + np.exp(-logits(RGB)))
    assert set(body["predictions"]) == set(CLASSIFICATION_CLASSES)
    for class_id, name in enumerate(CLASSIFICATION_CLASSES):
        assert body["predictions"][name]["class_id"] == class_id
        assert body["predictions"][name]["confidence"] == pytest.approx(sigmoid[class_id], abs=1e-3)
    assert body["predicted_classes"] == predicted
    assert "top" not in body
