"""Every task route: each request style, batched lists, and refusal of another task's model.

Images are solid with a chosen red level; each fixture's answer for red is a known
function of it (tools/fixtures/heads.py), so a response shows which image it was for.
URL images come from an HTTP server on loopback, which the test settings allow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import httpx
import numpy as np
import pytest

from tests.support import b64_image, loopback_image_server, npy_b64, solid_image
from tools.fixtures.heads import CLASSIFICATION_GAIN


@dataclass(frozen=True)
class TaskCase:
    route: str
    model_id: str
    red_score: Callable[[dict], float]
    """The score a response gives to red."""
    expected: Callable[[int], float]
    """That score for an image of this red level (0-255), green and blue 0."""


def _best_red_thing(body: dict) -> float:
    return max(p["confidence"] for p in body["predictions"] if p["class"] == "red-thing")


TASKS = {
    # Stretched models: the channel mean is the image's red level exactly.
    "object_detection": TaskCase(
        "/infer/object_detection", "fixture-yolov8/3", _best_red_thing, lambda v: v / 255
    ),
    "instance_segmentation": TaskCase(
        "/infer/instance_segmentation",
        "fixture-yolov8-seg/2",
        _best_red_thing,
        lambda v: v / 255,
    ),
    "classification": TaskCase(
        "/infer/classification",
        "fixture-classification/4",  # multi-label ViT: red's own sigmoid of [-1, 1] input
        lambda body: body["predictions"]["red"]["confidence"],
        lambda v: 1 / (1 + np.exp(-CLASSIFICATION_GAIN * ((v / 255 - 0.5) / 0.5 - 0.5))),
    ),
    "keypoints_detection": TaskCase(
        "/infer/keypoints_detection", "fixture-yolov8-pose/2", _best_red_thing, lambda v: v / 255
    ),
}


def red_image(level: int) -> np.ndarray:
    return solid_image(160, 120, (0, 0, level))


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """Serves ``/red/{level}.png`` on loopback; yields its base URL."""

    def png(path: str) -> bytes:
        level = int(path.removeprefix("/red/").removesuffix(".png"))
        return bytes(cv2.imencode(".png", red_image(level))[1].tobytes())

    with loopback_image_server(png) as base_url:
        yield base_url


def request_image(style: str, level: int, image_server: str) -> dict[str, str]:
    """The image of red ``level`` in one of the three request styles."""
    if style == "url":
        return {"type": "url", "value": f"{image_server}/red/{level}.png"}
    if style == "numpy":
        return {"type": "numpy", "value": npy_b64(red_image(level))}
    return b64_image(red_image(level))


STYLES = ["base64", "numpy", "url"]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_request_style_works_for_each_task(
    client: httpx.Client, image_server: str, task: str, style: str
) -> None:
    case = TASKS[task]
    image = request_image(style, 200, image_server)
    r = client.post(case.route, json={"model_id": case.model_id, "image": image})
    assert r.status_code == 200, r.text
    assert r.json()["image"] == {"width": 160, "height": 120}
    assert case.red_score(r.json()) == pytest.approx(case.expected(200), abs=2e-3)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_list_of_images_answers_a_list_in_order(
    client: httpx.Client, image_server: str, task: str
) -> None:
    case = TASKS[task]
    levels = [230, 150, 190, 250]
    styles = [*STYLES, "base64"]
    images = [request_image(s, v, image_server) for s, v in zip(styles, levels, strict=True)]
    r = client.post(case.route, json={"model_id": case.model_id, "image": images})
    assert r.status_code == 200, r.text
    answers = r.json()
    assert isinstance(answers, list) and len(answers) == len(levels)
    for level, answer in zip(levels, answers, strict=True):
        assert case.red_score(answer) == pytest.approx(case.expected(level), abs=2e-3)


@pytest.mark.parametrize(
    ("route", "model_id", "model_task"),
    [
        ("/infer/classification", "fixture-yolov8/1", "object-detection"),
        ("/infer/instance_segmentation", "fixture-yolov5/1", "object-detection"),
        ("/infer/object_detection", "fixture-yolov8-seg/1", "instance-segmentation"),
        ("/infer/object_detection", "fixture-classification/1", "classification"),
        ("/infer/segmentation", "fixture-classification/2", "classification"),
        ("/infer/keypoints_detection", "fixture-yolov8/1", "object-detection"),
        ("/infer/object_detection", "fixture-yolov8-pose/1", "keypoint-detection"),
    ],
)
def test_a_model_of_another_task_is_a_400(
    client: httpx.Client, route: str, model_id: str, model_task: str
) -> None:
    image = b64_image(red_image(200))
    r = client.post(route, json={"model_id": model_id, "image": image})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert model_id in message and model_task in message


@pytest.mark.parametrize(
    "options",
    [{"mask_decode_mode": "exact"}, {"tradeoff_factor": 1.5}, {"tradeoff_factor": -0.1}],
)
def test_invalid_mask_options_are_a_422(client: httpx.Client, options: dict) -> None:
    image = b64_image(red_image(200))
    body = {"model_id": "fixture-yolov8-seg/1", "image": image, **options}
    r = client.post("/infer/instance_segmentation", json=body)
    assert r.status_code == 422, r.text
    assert next(iter(options)) in r.json()["message"]
