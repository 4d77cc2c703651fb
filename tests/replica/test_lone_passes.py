"""A model replica runs a forward pass on its engine's lone layout (more threads) only
while it holds no other request: no other pass, of any model, and (fused) no other
request being decoded; passes under load run on the one-thread layout. Seen through
the threads each pass ran on, which the replica counts, on the real Serve graph of
both compositions with a fake engine whose passes take a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.handles import hop_stats
from serve_app.config import BatchingConfig, Composition, ServerSettings
from tests.api.test_models_routes import infer
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed, small_app

MODELS = ("fixture-yolov8/1", "fixture-yolov8/2")
LONE_THREADS = 4
WIDE, NARROW = str(LONE_THREADS), "1"


@pytest.fixture(scope="module", params=["split", "fused"])
def served(
    request: pytest.FixtureRequest, serve_port: int, settings: ServerSettings
) -> Iterator[tuple[str, str, Composition]]:
    composition: Composition = request.param
    app = f"rfserve-lone-{composition}"
    config = small_app(settings, composition=composition).model_copy(
        update={"batching": BatchingConfig(max_batch_size=1, max_in_flight=2)}
    )
    engines = FakeEngineFactory(pass_s=1.0, lone_threads=LONE_THREADS)
    with deployed(app, config, serve_port, engines) as url:
        yield url, app, composition


def post(base: str, model_id: str) -> int:
    return infer(base, model_id).status_code


def test_a_lone_request_runs_wide_and_requests_under_load_narrow(
    served: tuple[str, str, Composition],
) -> None:
    base, app, composition = served

    def pass_threads() -> dict[str, int]:
        counts: dict[str, int] = hop_stats(app, composition)["model"]["pass_threads"]
        return counts

    for model_id in MODELS:  # loaded, one request at a time: each pass alone
        assert post(base, model_id) == 200
    assert pass_threads() == {WIDE: 2}
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, base, MODELS[0])
        deadline = time.monotonic() + 30
        while pass_threads().get(WIDE, 0) < 3:  # its pass has started, alone
            assert time.monotonic() < deadline, "the first pass never started"
            time.sleep(0.05)
        # Sent while it runs: each starts beside it or after it, with others in flight.
        rest = list(pool.map(lambda m: post(base, m), (*MODELS, MODELS[1])))
        assert [first.result(), *rest] == [200] * 4
    assert pass_threads() == {WIDE: 3, NARROW: 3}
