"""Bad input gets a clear JSON error with the right status, and the server stays up."""

from __future__ import annotations

import base64
import pickle

import httpx
import numpy as np
import pytest

from tests.support import b64_image, npy_b64, solid_image

ROUTE = "/infer/object_detection"
GOOD_IMAGE = b64_image(solid_image(64, 64, (0, 0, 255)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("body", "status", "message_part"),
    [
        ({"image": GOOD_IMAGE}, 422, "model_id"),
        ({"model_id": "fixture-yolov8/1"}, 422, "image"),
        ({"model_id": "fixture-yolov8/1", "image": {"type": "pil", "value": "x"}}, 422, "type"),
        (
            {"model_id": "fixture-yolov8/1", "image": GOOD_IMAGE, "confidence": 1.5},
            422,
            "confidence",
        ),
        (
            {"model_id": "fixture-yolov8/1", "image": GOOD_IMAGE, "max_detections": 0},
            422,
            "max_detections",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {"type": "base64", "value": _b64(b"not an image")},
            },
            400,
            "decode",
        ),
        (
            {"model_id": "fixture-yolov8/1", "image": {"type": "base64", "value": "%%%"}},
            400,
            "decode",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {
                    "type": "numpy",
                    "value": _b64(pickle.dumps(np.zeros((4, 4, 3), np.uint8))),
                },
            },
            400,
            "RFSERVE_ALLOW_PICKLED_NUMPY",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {"type": "numpy", "value": npy_b64(np.zeros((8, 8, 3), np.float32))},
            },
            400,
            "uint8",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {"type": "numpy", "value": npy_b64(np.zeros((0, 8, 3), np.uint8))},
            },
            400,
            "empty",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {"type": "url", "value": "http://169.254.169.254/latest/meta-data"},
            },
            400,
            "forbidden",
        ),
        (
            {
                "model_id": "fixture-yolov8/1",
                "image": {"type": "url", "value": "file:///etc/passwd"},
            },
            400,
            "scheme",
        ),
        ({"model_id": "no-such-model/7", "image": GOOD_IMAGE}, 404, "no-such-model/7"),
        ({"model_id": "../../etc/1", "image": GOOD_IMAGE}, 400, "model_id"),
        ({"model_id": "fixture-yolov8", "image": GOOD_IMAGE}, 400, "dataset/version"),
    ],
)
def test_bad_requests_get_json_errors(
    client: httpx.Client, body: dict, status: int, message_part: str
) -> None:
    r = client.post(ROUTE, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert message_part in r.json()["message"]


def test_body_that_is_not_json_is_422(client: httpx.Client) -> None:
    r = client.post(ROUTE, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "message" in r.json()


def test_one_bad_image_in_a_list_fails_the_request_not_the_server(client: httpx.Client) -> None:
    bad = {"type": "base64", "value": _b64(b"garbage")}
    r = client.post(ROUTE, json={"model_id": "fixture-yolov8/1", "image": [GOOD_IMAGE, bad]})
    assert r.status_code == 400
    r = client.post(ROUTE, json={"model_id": "fixture-yolov8/1", "image": GOOD_IMAGE})
    assert r.status_code == 200
    assert client.get("/healthz").json() == {"status": "healthy"}
