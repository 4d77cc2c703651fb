"""Concurrent requests travel in groups across every hop, and stay apart in them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from serve_app.config import Composition
from serve_app.observability.hops import hop_stats
from tests.conftest import APP_NAME
from tests.support import b64_image, solid_image

# Each image's red level is its fingerprint: the fixture model scores it back.
REDS = list(range(120, 256, 4))


def _red_score(response: dict[str, Any]) -> float:
    (pred,) = [p for p in response["predictions"] if p["class"] == "red-thing"]
    return float(pred["confidence"])


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in ("calls", "items", "images")}


def _hops(composition: Composition) -> dict[str, Any]:
    stats = hop_stats(APP_NAME, composition)
    return {
        "into preprocessing": stats["dispatched"],
        "into model": stats["model"]["received"],
        "forward": stats["model"]["forward"],
    }


def test_concurrent_requests_cross_every_hop_in_groups_and_keep_their_results(
    server: str, composition: Composition
) -> None:
    before = _hops(composition)

    def send(red: int) -> float:
        with httpx.Client(base_url=server, timeout=60) as c:
            body = {
                "model_id": "fixture-yolov8/1",
                "image": b64_image(solid_image(320, 320, (0, 0, red))),
            }
            r = c.post("/infer/object_detection", json=body)
            assert r.status_code == 200, r.text
            return _red_score(r.json())

    with ThreadPoolExecutor(len(REDS)) as pool:
        confidences = list(pool.map(send, REDS))

    assert confidences == pytest.approx([r / 255 for r in REDS], abs=2e-3)
    after = _hops(composition)
    for hop in ("into preprocessing", "into model", "forward"):
        moved = _delta(after[hop], before[hop])
        assert moved["images"] == len(REDS), (hop, moved)
        # Fewer calls than images: some crossed the hop together.
        assert moved["calls"] < len(REDS), (hop, moved)


def test_a_list_of_images_crosses_each_hop_once_in_order(
    client: httpx.Client, composition: Composition
) -> None:
    reds = [250, 130, 200, 160, 220, 140, 180, 240]
    before = _hops(composition)
    body = {
        "model_id": "fixture-yolov8/1",
        "image": [b64_image(solid_image(320, 320, (0, 0, red))) for red in reds],
    }
    r = client.post("/infer/object_detection", json=body)
    assert r.status_code == 200, r.text
    assert [_red_score(p) for p in r.json()] == pytest.approx([x / 255 for x in reds], abs=2e-3)
    after = _hops(composition)
    for hop in ("into preprocessing", "into model"):
        assert _delta(after[hop], before[hop]) == {
            "calls": 1,
            "items": 1,
            "images": len(reds),
        }, hop
    assert _delta(after["forward"], before["forward"])["images"] == len(reds)
