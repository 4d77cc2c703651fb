"""A model replica runs a forward pass on its engine's lone layout (more threads) only
while no other pass, of any model, runs in the replica; passes that overlap run on
the one-thread layout. Seen through the threads each pass ran on, which the replica
counts, on the real Serve graph with a fake engine whose passes take a second."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.handles import hop_stats
from serve_app.config import BatchingConfig, ServerSettings
from tests.api.test_models_routes import infer
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed, small_app

APP = "rfserve-lone"
MODELS = ("fixture-yolov8/1", "fixture-yolov8/2")
LONE_THREADS = 4


@pytest.fixture(scope="module")
def base(serve_port: int, settings: ServerSettings) -> Iterator[str]:
    config = small_app(settings).model_copy(
        update={"batching": BatchingConfig(max_batch_size=1, max_in_flight=2)}
    )
    engines = FakeEngineFactory(pass_s=1.0, lone_threads=LONE_THREADS)
    with deployed(APP, config, serve_port, engines) as url:
        yield url


def post(base: str, model_id: str) -> int:
    return infer(base, model_id).status_code


def pass_threads() -> dict[str, int]:
    counts: dict[str, int] = hop_stats(APP, "split")["model"]["pass_threads"]
    return counts


def test_a_lone_request_runs_wide_and_overlapping_ones_narrow(base: str) -> None:
    for model_id in MODELS:  # loaded, one request at a time: each pass alone
        assert post(base, model_id) == 200
    assert pass_threads() == {str(LONE_THREADS): 2}
    # Two models, two passes each at once: the first to start is alone, every other
    # starts while one runs (each pass takes a second, they all arrive at once).
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda m: post(base, m), MODELS * 2))
    assert codes == [200] * 4
    assert pass_threads() == {str(LONE_THREADS): 3, "1": 3}
