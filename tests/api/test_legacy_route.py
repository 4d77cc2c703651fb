"""The classic ``/{dataset_id}/{version_id}`` route: every way classic clients send an
image, Roboflow's percentage thresholds, the image formats, and the routes it must
not shadow."""

from __future__ import annotations

import base64
import io
import pickle
from collections.abc import Iterator

import cv2
import httpx
import numpy as np
import pytest

from serve_app.api.routes.legacy import RESERVED_SEGMENTS
from tests.support import (
    b64_image,
    box_of,
    loopback_image_server,
    npy_b64,
    png_b64,
    solid_image,
    stable,
)

MODEL = "/fixture-yolov8/1"
FORM = {"content-type": "application/x-www-form-urlencoded"}
# Red 1.0 and blue 0.78: one red box after NMS at IoU 0.3 (the pair's IoU is 0.6).
IMAGE = solid_image(320, 320, (200, 0, 255))


def png_bytes(image: np.ndarray) -> bytes:
    return base64.b64decode(png_b64(image))


def counts(body: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in body["predictions"]:
        out[p["class"]] = out.get(p["class"], 0) + 1
    return out


@pytest.fixture(scope="module")
def image_url() -> Iterator[str]:
    """URL of a PNG of :data:`IMAGE` on a loopback server."""
    data = png_bytes(IMAGE)
    with loopback_image_server(lambda _: data) as base_url:
        yield f"{base_url}/image.png"


def test_base64_form_body_answers_like_infer(client: httpx.Client) -> None:
    r = client.post(MODEL, content=png_b64(IMAGE), headers=FORM)
    assert r.status_code == 200, r.text
    legacy = r.json()
    modern = client.post(
        "/infer/object_detection",
        json={"model_id": MODEL[1:], "image": b64_image(IMAGE)},
    ).json()
    assert counts(legacy) == counts(modern) == {"red-thing": 1, "blue-thing": 1}
    for old, new in zip(legacy["predictions"], modern["predictions"], strict=True):
        assert box_of(old) == pytest.approx(box_of(new))
        assert old["confidence"] == pytest.approx(new["confidence"])
    assert "visualization" not in legacy


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overlap=30", {"red-thing": 1, "blue-thing": 1}),
        ("overlap=0.3", {"red-thing": 1, "blue-thing": 1}),
        ("overlap=70", {"red-thing": 2, "blue-thing": 1}),  # the pair's IoU is 0.6
        ("overlap=0.7", {"red-thing": 2, "blue-thing": 1}),
        ("confidence=80", {"red-thing": 1}),  # blue scores 0.78
        ("confidence=0.8", {"red-thing": 1}),
        ("max_detections=1", {"red-thing": 1}),
    ],
)
def test_thresholds_are_fractions_or_percentages(
    client: httpx.Client, query: str, expected: dict[str, int]
) -> None:
    r = client.post(f"{MODEL}?{query}", content=png_b64(IMAGE), headers=FORM)
    assert r.status_code == 200, r.text
    assert counts(r.json()) == expected


def test_multipart_file_part(client: httpx.Client) -> None:
    r = client.post(MODEL, files={"file": ("image.png", png_bytes(IMAGE), "image/png")})
    assert r.status_code == 200, r.text
    assert counts(r.json()) == {"red-thing": 1, "blue-thing": 1}


def test_get_with_image_url(client: httpx.Client, image_url: str) -> None:
    r = client.get(MODEL, params={"image": image_url})
    assert r.status_code == 200, r.text
    assert r.json()["image"] == {"width": 320, "height": 320}
    assert counts(r.json()) == {"red-thing": 1, "blue-thing": 1}


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


@pytest.mark.parametrize(
    "body", [npy_b64(IMAGE).encode(), npy_bytes(IMAGE)], ids=["base64-npy", "raw-npy"]
)
def test_numpy_body_in_npy_form(client: httpx.Client, body: bytes) -> None:
    r = client.post(f"{MODEL}?image_type=numpy", content=body, headers=FORM)
    assert r.status_code == 200, r.text
    assert counts(r.json()) == {"red-thing": 1, "blue-thing": 1}


@pytest.mark.parametrize(
    "body",
    [pickle.dumps(IMAGE), base64.b64encode(pickle.dumps(IMAGE))],
    ids=["raw-pickle", "base64-pickle"],
)
def test_pickled_numpy_is_refused_naming_the_setting(client: httpx.Client, body: bytes) -> None:
    r = client.post(f"{MODEL}?image_type=numpy", content=body, headers=FORM)
    assert r.status_code == 400, r.text
    assert "RFSERVE_ALLOW_PICKLED_NUMPY" in r.json()["message"]


def test_format_image_answers_a_jpeg_of_the_original_size(client: httpx.Client) -> None:
    image = solid_image(480, 360, (200, 0, 255))
    r = client.post(
        f"{MODEL}?format=image&labels=true&stroke=3", content=png_b64(image), headers=FORM
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    drawn = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn is not None and drawn.shape == image.shape
    assert np.abs(drawn.astype(int) - image).max() > 100  # something was drawn


@pytest.mark.parametrize(("query", "labelled"), [("", True), ("&labels=false", False)])
def test_format_image_is_labelled_unless_told_not_to(
    client: httpx.Client, query: str, labelled: bool
) -> None:
    """Roboflow's server draws no label unless asked; here a drawing names what it shows,
    and ``labels=false`` draws as Roboflow's does."""
    image = solid_image(640, 480, (255, 0, 255))  # the red-thing box at (120, 60)-(280, 180)
    r = client.post(f"{MODEL}?format=image{query}", content=png_b64(image), headers=FORM)
    assert r.status_code == 200, r.text
    drawn = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    tag = drawn[48:58, 125:160].astype(int)  # above the box's top-left corner
    changed = np.abs(tag - (255, 0, 255)).max(axis=2) > 60
    assert changed.mean() > 0.5 if labelled else not changed.any()


def test_format_image_and_json_carries_the_drawing(client: httpx.Client) -> None:
    r = client.post(f"{MODEL}?format=image_and_json", content=png_b64(IMAGE), headers=FORM)
    assert r.status_code == 200, r.text
    body = r.json()
    assert counts(body) == {"red-thing": 1, "blue-thing": 1}
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(body["visualization"]), np.uint8), 1)
    assert drawn.shape == IMAGE.shape


def test_serves_the_task_the_model_was_trained_for(client: httpx.Client) -> None:
    r = client.post("/fixture-classification/1", content=png_b64(IMAGE), headers=FORM)
    assert r.status_code == 200, r.text
    assert r.json()["top"] == "red"
    r = client.post("/fixture-yolov8-seg/1", content=png_b64(IMAGE), headers=FORM)
    assert r.status_code == 200, r.text
    assert counts(r.json()) == {"red-thing": 1, "blue-thing": 1}
    assert all(len(p["points"]) > 2 for p in r.json()["predictions"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message_part"),
    [
        ("POST", MODEL, {"content": b"", "headers": FORM}, 400, "No image"),
        ("GET", MODEL, {}, 400, "image=<url>"),
        ("POST", "/no-such-model/3", {"content": png_b64(IMAGE), "headers": FORM}, 404, "no-such"),
        (
            "POST",
            f"{MODEL}?format=xml",
            {"content": png_b64(IMAGE), "headers": FORM},
            422,
            "format",
        ),
        ("POST", MODEL, {"files": {"other": ("a.png", b"x", "image/png")}}, 400, "'file'"),
    ],
)
def test_bad_requests(
    client: httpx.Client, method: str, path: str, kwargs: dict, status: int, message_part: str
) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert message_part in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/info", 200),
        ("GET", "/healthz", 200),
        ("GET", "/readiness", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/docs", 200),
        ("GET", "/docs/oauth2-redirect", 200),
        ("POST", "/docs/oauth2-redirect", 405),
        ("GET", "/infer/object_detection", 405),
        ("POST", "/infer/no_such_task", 404),
        ("POST", "/model/no_such_route", 404),
    ],
)
def test_other_routes_are_not_shadowed(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    r = client.request(method, path)
    assert r.status_code == status, r.text


def test_every_two_segment_route_starts_with_a_reserved_segment(client: httpx.Client) -> None:
    """Guards routes added later: each must be listed, or the catch-all could take it."""
    for path in client.get("/openapi.json").json()["paths"]:
        segments = path.strip("/").split("/")
        if len(segments) >= 2 and not segments[0].startswith("{"):
            assert segments[0] in RESERVED_SEGMENTS, path


@pytest.mark.parametrize(
    ("model", "route"),
    [
        ("fixture-yolov8/1", "/infer/object_detection"),
        ("fixture-yolov8-seg/1", "/infer/instance_segmentation"),
        ("fixture-classification/1", "/infer/classification"),
        ("fixture-yolov8-pose/1", "/infer/keypoints_detection"),
    ],
)
def test_json_body_is_read_as_the_infer_request_of_the_models_task(
    client: httpx.Client, model: str, route: str
) -> None:
    """The request of Roboflow's older docs: the body's options apply, as on /infer."""
    options = {"confidence": 0.75, "iou_threshold": 0.5, "api_key": "any-key"}
    body = {"image": b64_image(IMAGE), **options}
    r = client.post(f"/{model}", json=body)
    assert r.status_code == 200, r.text
    expected = client.post(route, json={**body, "model_id": model}).json()
    assert stable(r.json()) == stable(expected)
    if "classification" not in route:
        # At confidence 0.75 the blue box (0.78) stays and a 0.4 threshold would add none.
        assert {p["class"] for p in r.json()["predictions"]} == {"red-thing", "blue-thing"}


def test_json_body_options_change_the_answer(client: httpx.Client) -> None:
    image = b64_image(IMAGE)
    loose = client.post(MODEL, json={"image": image, "iou_threshold": 0.7}).json()
    strict = client.post(MODEL, json={"image": image, "confidence": 0.8}).json()
    assert counts(loose) == {"red-thing": 2, "blue-thing": 1}
    assert counts(strict) == {"red-thing": 1}


def test_json_body_with_a_list_of_images_answers_a_list(client: httpx.Client) -> None:
    image = b64_image(IMAGE)
    r = client.post(MODEL, json={"image": [image, image]})
    assert r.status_code == 200, r.text
    assert [counts(answer) for answer in r.json()] == [{"red-thing": 1, "blue-thing": 1}] * 2


@pytest.mark.parametrize(
    ("content", "status", "message_part"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "must be an object"),
        (b'{"confidence": 0.5}', 422, "image"),
        (b'{"image": {"type": "base64", "value": "x"}, "confidence": 7}', 422, "confidence"),
    ],
)
def test_bad_json_bodies(
    client: httpx.Client, content: bytes, status: int, message_part: str
) -> None:
    r = client.post(MODEL, content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message_part in r.json()["message"]


def test_format_image_draws_a_classification(client: httpx.Client) -> None:
    r = client.post(
        "/fixture-classification/1?format=image&stroke=4", content=png_b64(IMAGE), headers=FORM
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    drawn = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == IMAGE.shape
    centre = drawn[100:220, 100:220].astype(int)
    assert np.abs(centre - IMAGE[100:220, 100:220]).max() < 30, "the image itself is kept"
    assert np.abs(drawn[:15, :60].astype(int) - IMAGE[:15, :60]).max() > 100, "a tag is drawn"
    assert np.abs(drawn[-2:, 150].astype(int) - IMAGE[-2:, 150]).max() > 100, "and a frame"


def test_model_ids_are_normalised_on_infer_as_on_model_routes(client: httpx.Client) -> None:
    image = b64_image(IMAGE)
    r = client.post(
        "/infer/object_detection", json={"model_id": "/fixture-yolov10/1/", "image": image}
    )
    assert r.status_code == 200, r.text
    loaded = [m["model_id"] for m in client.get("/model/registry").json()["models"]]
    assert "fixture-yolov10/1" in loaded
    assert not any(m.startswith("/") or m.endswith("/") for m in loaded)
