"""Bad input gets a clear JSON error with the right status, and the server stays up."""

from __future__ import annotations

import base64
import json
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


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/route/here", 404),
        ("GET", "/infer/object_detection", 405),
        ("DELETE", "/model/add", 405),
    ],
)
def test_framework_errors_are_json_messages_too(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    r = client.request(method, path)
    assert r.status_code == status
    assert set(r.json()) == {"message"}, r.text


def test_a_body_without_a_json_content_type_is_415_and_says_so(client: httpx.Client) -> None:
    body = json.dumps({"model_id": "fixture-yolov8/1", "image": GOOD_IMAGE})
    r = client.post(ROUTE, content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert "Content-Type: application/json" in r.json()["message"]


@pytest.mark.parametrize(
    "model_id",
    [
        "../etc/1",
        "a/../../b",
        "/etc/passwd/1",
        "a/1/../../x",
        "..%2f..%2fetc/1",
        "a\\..\\b/1",
        "a/1\x00",
        "x" * 200 + "/1",
        "C:\\windows/1",
    ],
)
def test_model_ids_that_could_leave_the_cache_are_refused(
    client: httpx.Client, model_id: str
) -> None:
    r = client.post(ROUTE, json={"model_id": model_id, "image": GOOD_IMAGE})
    assert r.status_code == 400, r.text
    assert "model_id" in r.json()["message"]


@pytest.mark.parametrize("path", ["/..%2F..%2Fetc/1", "/%2E%2E/1", "/a%2F..%2F..%2Fb/1"])
def test_encoded_traversal_on_the_classic_route_is_refused(client: httpx.Client, path: str) -> None:
    r = client.post(path, content=b"x")
    assert r.status_code in (400, 404), r.text
    assert "message" in r.json()


@pytest.mark.parametrize(
    "path",
    [
        "/infer/object_detection",
        "/infer/instance_segmentation",
        "/infer/segmentation",
        "/infer/keypoints_detection",
        "/infer/classification",
        "/fixture-yolov8/1",  # the classic route's JSON body
    ],
)
def test_an_empty_image_list_is_a_400_that_says_so(client: httpx.Client, path: str) -> None:
    r = client.post(path, json={"model_id": "fixture-yolov8/1", "image": []})
    assert r.status_code == 400, r.text
    assert "empty" in r.json()["message"]
    assert client.post(ROUTE, json={"model_id": "fixture-yolov8/1", "image": GOOD_IMAGE}).is_success
