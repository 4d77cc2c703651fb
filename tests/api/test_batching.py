"""Concurrent requests from separate clients are batched, and stay apart in the batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from ray import serve

from tests.conftest import APP_NAME
from tests.support import b64_image, solid_image


def test_concurrent_requests_form_batches_and_keep_their_own_results(server: str) -> None:
    model = serve.get_deployment_handle("ModelReplica", app_name=APP_NAME)
    before = model.stats.remote().result()
    # Each image's red level is its fingerprint: the fixture model scores it back.
    reds = list(range(120, 256, 8))

    def send(red: int) -> float:
        with httpx.Client(base_url=server, timeout=60) as c:
            body = {
                "model_id": "fixture-yolov8/1",
                "image": b64_image(solid_image(320, 320, (0, 0, red))),
            }
            r = c.post("/infer/object_detection", json=body)
            assert r.status_code == 200, r.text
            (pred,) = [p for p in r.json()["predictions"] if p["class"] == "red-thing"]
            return float(pred["confidence"])

    with ThreadPoolExecutor(len(reds)) as pool:
        confidences = list(pool.map(send, reds))

    assert confidences == pytest.approx([r / 255 for r in reds], abs=2e-3)
    after = model.stats.remote().result()
    assert after["images"] - before["images"] == len(reds)
    assert after["batches"] - before["batches"] < len(reds), after
    assert after["max_batch_size_seen"] > 1, after
