"""Many models in one replica: held as long as their memory fits (no count by
default), the least recently used unloaded beyond it, and a model's load stalls no
other model's requests, nor another model's load."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench.handles import hop_stats
from serve_app.config import ServerSettings
from serve_app.weights.config import BUNDLED_MODELS_DIR
from tests.api.test_models_routes import infer
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed, small_app

BUNDLED = "shapes-detection/1"
COPIES = [f"copy-{i}/1" for i in range(16)]


@pytest.fixture(scope="module")
def copies_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 copies of the bundled detector (2 MB of weights each), as 16 models."""
    root = tmp_path_factory.mktemp("many-models")
    for model_id in COPIES:
        shutil.copytree(BUNDLED_MODELS_DIR / BUNDLED, root / model_id)
    return root


def copies_settings(copies_dir: Path, cache: Path, **more: Any) -> ServerSettings:
    return ServerSettings(
        model_cache_dir=cache, local_models_dir=copies_dir, weight_sources=["local"], **more
    )


def model_stats(app: str) -> dict[str, Any]:
    stats: dict[str, Any] = hop_stats(app, "split")["model"]
    return stats


def each_in_turn(base: str, rounds: int = 2) -> None:
    for _ in range(rounds):
        for model_id in COPIES:
            assert infer(base, model_id).status_code == 200


@pytest.mark.parametrize(
    ("name", "more", "loads", "evictions"),
    [
        # The defaults: memory decides, and 16 small models fit: each loads once.
        ("rfserve-fit", {}, 16, 0),
        # Roboflow's count of 8: the least recently used is the one needed next, so
        # after the first 8 every request loads its model and evicts another.
        ("rfserve-count", {"max_active_models": 8}, 32, 24),
    ],
)
def test_models_are_held_while_they_fit(
    serve_port: int,
    copies_dir: Path,
    tmp_path: Path,
    name: str,
    more: dict[str, Any],
    loads: int,
    evictions: int,
) -> None:
    config = small_app(copies_settings(copies_dir, tmp_path, **more))
    with deployed(name, config, serve_port) as base:  # ONNX Runtime: real footprints
        each_in_turn(base)
        stats = model_stats(name)
    assert (stats["model_loads"], stats["model_evictions"]) == (loads, evictions)
    assert len(stats["loaded_models"]) == loads - evictions


def test_beyond_the_memory_budget_the_least_recently_used_go(
    serve_port: int, copies_dir: Path, tmp_path: Path
) -> None:
    """A budget of 12 MiB holds a few of these models (2 MB of weights each, more in
    memory), never more than it."""
    config = small_app(copies_settings(copies_dir, tmp_path, model_memory_mb=12))
    with deployed("rfserve-budget", config, serve_port) as base:
        each_in_turn(base, rounds=1)
        stats = model_stats("rfserve-budget")
    held = stats["loaded_models"]
    assert 1 <= len(held) <= 6 and stats["model_memory_mb"] <= 12
    assert held == COPIES[-len(held) :]  # the most recently used
    assert stats["model_evictions"] == 16 - len(held)


@pytest.fixture(scope="module")
def slow_loading(serve_port: int, settings: ServerSettings) -> Iterator[str]:
    engines = FakeEngineFactory(load_s=6.0, slow_loads=("fixture-yolov8/2",))
    with deployed("rfserve-slow-load", small_app(settings), serve_port, engines) as url:
        yield url


def test_a_slow_load_stalls_no_other_model(slow_loading: str) -> None:
    base, slow = slow_loading, "fixture-yolov8/2"
    assert infer(base, "fixture-yolov8/1").status_code == 200  # held before
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(infer, base, slow)
        deadline = time.monotonic() + 30
        while slow not in model_stats("rfserve-slow-load")["loading_models"]:
            assert time.monotonic() < deadline, "the slow load never started"
            time.sleep(0.05)
        for _ in range(5):  # the held model answers meanwhile
            assert infer(base, "fixture-yolov8/1").status_code == 200
        # So does a model loaded meanwhile: loads of different models run at once.
        assert infer(base, "fixture-yolov8/3").status_code == 200
        assert not pending.done()
        assert slow in model_stats("rfserve-slow-load")["loading_models"]
        assert pending.result(60).status_code == 200
    stats = model_stats("rfserve-slow-load")
    assert set(stats["loaded_models"]) == {f"fixture-yolov8/{v}" for v in (1, 2, 3)}
    assert stats["loading_models"] == []
