"""/infer/classification against fixture models whose logits follow the mean colour.

Class k of the fixture (red, green, blue) has logit GAIN × (mean of channel k − 0.5),
the mean as the network sees it (tools/fixtures/heads.py): a YOLO classifier sees
[0, 1], a ViT (x − 0.5) / 0.5 and a ResNet ImageNet-normalised values, as Roboflow's
server feeds them. The images are solid and the models stretch, so the means are the
image's colour exactly and expected scores are computed here by hand.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support import b64_image, solid_image
from tools.fixtures.heads import CLASSIFICATION_CLASSES, CLASSIFICATION_GAIN

ROUTE = "/infer/classification"
SINGLE_LABEL = "fixture-classification/1"  # YOLOv8
MULTI_LABEL = "fixture-classification/2"  # ViT, Roboflow's legacy MULTICLASS
RESNET = "fixture-classification/3"  # single-label
DECLARED_SIGMOID = "fixture-classification/4"  # ViT, inference_config.json: sigmoid
RGB = (255, 0, 128)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
SYMMETRIC = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def logits(
    rgb: tuple[int, int, int], normalization: tuple[tuple[float, ...], ...] = ((0, 0, 0), (1, 1, 1))
) -> np.ndarray:
    mean, std = (np.array(v) for v in normalization)
    return CLASSIFICATION_GAIN * ((np.array(rgb) / 255 - mean) / std - 0.5)


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


@pytest.mark.parametrize(("confidence", "predicted"), [(0.4, ["red", "blue"]), (0.9, ["red"])])
def test_legacy_multi_label_reports_each_output_as_it_is(
    client: httpx.Client, confidence: float, predicted: list[str]
) -> None:
    """As Roboflow's server reports a MULTICLASS package: no activation of its own, so a
    network that ends in one is not squashed twice (0 would read as 0.5)."""
    rgb = (255, 0, 200)  # outputs 5.0, -15.0 and 0.69 on a ViT's [-1, 1] scale
    body = classify(client, MULTI_LABEL, rgb, confidence=confidence)
    outputs = logits(rgb, SYMMETRIC)
    assert set(body["predictions"]) == set(CLASSIFICATION_CLASSES)
    for class_id, name in enumerate(CLASSIFICATION_CLASSES):
        assert body["predictions"][name]["class_id"] == class_id
        assert body["predictions"][name]["confidence"] == pytest.approx(outputs[class_id], abs=1e-3)
    assert body["predicted_classes"] == predicted
    assert "top" not in body


@pytest.mark.parametrize(("confidence", "predicted"), [(0.4, ["red", "blue"]), (0.9, ["red"])])
def test_a_declared_sigmoid_scores_every_class_by_its_own_sigmoid(
    client: httpx.Client, confidence: float, predicted: list[str]
) -> None:
    rgb = (255, 0, 200)  # blue scores 0.67 on a ViT's [-1, 1] scale, 0.15 on [0, 1]
    body = classify(client, DECLARED_SIGMOID, rgb, confidence=confidence)
    sigmoid = 1 / (1 + np.exp(-logits(rgb, SYMMETRIC)))
    for class_id, name in enumerate(CLASSIFICATION_CLASSES):
        assert body["predictions"][name]["class_id"] == class_id
        assert body["predictions"][name]["confidence"] == pytest.approx(sigmoid[class_id], abs=1e-3)
    assert body["predicted_classes"] == predicted


def test_resnet_sees_imagenet_normalised_input(client: httpx.Client) -> None:
    rgb = (90, 150, 120)
    body = classify(client, RESNET, rgb, confidence=0.0)
    exp = np.exp(logits(rgb, IMAGENET))
    softmax = exp / exp.sum()
    unnormalised = np.exp(logits(rgb)) / np.exp(logits(rgb)).sum()
    assert body["top"] == "green"
    assert body["confidence"] == pytest.approx(softmax[1], abs=1e-3)
    assert abs(softmax[1] - unnormalised[1]) > 0.05, "the test must tell the two apart"
    for p in body["predictions"]:
        assert p["confidence"] == pytest.approx(softmax[p["class_id"]], abs=1e-3)
