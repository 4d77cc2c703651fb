"""Past its bounded queues the server answers 503 with Retry-After at once, never
anything else, and serves again as soon as the load stops."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from serve_app.config import AppConfig, Composition, ServerSettings
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed
from tests.support import b64_image, solid_image

APP = "overload"
ROUTE = "/infer/object_detection"
CLIENTS = 48
LOAD_S = 6.0


@pytest.fixture(scope="module")
def tight(serve_port: int, settings: ServerSettings, composition: Composition) -> Iterator[str]:
    """Tiny queues everywhere, so a few dozen clients are many times what it takes."""
    small = {"num_cpus": 0.05, "max_ongoing_requests": 4, "max_queued_requests": 2}
    config = AppConfig.model_validate(
        {
            "composition": composition,
            "ingress": small,
            "preprocessing": small,
            "model": {**small, "max_ongoing_requests": 2, "max_queued_requests": 1},
            "settings": settings,
        }
    )
    with deployed(APP, config, serve_port, FakeEngineFactory()) as url:
        yield url


async def flood(url: str, body: dict[str, object]) -> tuple[Counter[int], list[float], list[str]]:
    statuses: Counter[int] = Counter()
    accepted_s: list[float] = []
    retry_after: list[str] = []
    stop = time.monotonic() + LOAD_S
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as c:

        async def client() -> None:
            while time.monotonic() < stop:
                start = time.monotonic()
                r = await c.post(f"{url}{ROUTE}", json=body)
                statuses[r.status_code] += 1
                if r.status_code == 200:
                    accepted_s.append(time.monotonic() - start)
                elif r.status_code == 503:
                    retry_after.append(r.headers.get("retry-after", ""))

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return statuses, accepted_s, retry_after


def test_overload_is_refused_fast_with_retry_after_and_the_server_recovers(tight: str) -> None:
    body = {"model_id": "fixture-yolov8/1", "image": b64_image(solid_image(320, 320, (0, 0, 200)))}
    assert httpx.post(f"{tight}{ROUTE}", json=body, timeout=60).status_code == 200
    statuses, accepted_s, retry_after = asyncio.run(flood(tight, body))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0 and statuses[200] > 0, statuses
    assert retry_after and all(value.isdigit() for value in retry_after), retry_after[:5]
    # Bounded queues bound the wait: nothing accepted waited anywhere near the timeout.
    assert max(accepted_s) < 30, max(accepted_s)
    for _ in range(3):
        assert httpx.post(f"{tight}{ROUTE}", json=body, timeout=60).status_code == 200
