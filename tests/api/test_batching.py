"""Concurrent requests travel in groups across every hop, and stay apart in them.

The application here keeps one call in flight per model at every hop, so requests that
arrive while one is under way must gather into the next group: the grouping shows
however slowly a loaded machine answers. It runs the real graph on the fake engine
(``tests/fakes.py``), which scores each image by its own red level.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bench.handles import hop_stats
from serve_app.config import AppConfig, Composition, ServerSettings
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed
from tests.support import b64_image, solid_image

APP = "grouping"

# Each image's red level is its fingerprint: the fixture model scores it back.
REDS = list(range(120, 256, 4))


def _red_score(response: dict[str, Any]) -> float:
    (pred,) = [p for p in response["predictions"] if p["class"] == "red-thing"]
    return float(pred["confidence"])


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in ("calls", "items", "images")}


@pytest.fixture(scope="module")
def one_at_a_time(
    serve_port: int, settings: ServerSettings, composition: Composition
) -> Iterator[str]:
    small = {"num_cpus": 0.05}
    config = AppConfig.model_validate(
        {
            "composition": composition,
            "ingress": small,
            "preprocessing": small,
            "model": small,
            "grouping": {"max_in_flight": 1},
            "batching": {"max_batch_size": 8, "max_in_flight": 1},
            "settings": settings,
        }
    )
    with deployed(APP, config, serve_port, FakeEngineFactory()) as url:
        yield url


def _hops(composition: Composition) -> dict[str, Any]:
    stats = hop_stats(APP, composition)
    return {
        "into preprocessing": stats["dispatched"],
        "into model": stats["model"]["received"],
        "forward": stats["model"]["forward"],
    }


def test_concurrent_requests_cross_every_hop_in_groups_and_keep_their_results(
    one_at_a_time: str, composition: Composition
) -> None:
    before = _hops(composition)

    start_together = threading.Barrier(len(REDS))

    def send(red: int) -> float:
        with httpx.Client(base_url=one_at_a_time, timeout=60) as c:
            body = {
                "model_id": "fixture-yolov8/1",
                "image": b64_image(solid_image(320, 320, (0, 0, red))),
            }
            start_together.wait(30)  # every client ready before any sends
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
    one_at_a_time: str, composition: Composition
) -> None:
    reds = [250, 130, 200, 160, 220, 140, 180, 240]
    before = _hops(composition)
    body = {
        "model_id": "fixture-yolov8/1",
        "image": [b64_image(solid_image(320, 320, (0, 0, red))) for red in reds],
    }
    r = httpx.post(f"{one_at_a_time}/infer/object_detection", json=body, timeout=60)
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
