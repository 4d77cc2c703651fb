"""A replica's budget for the models it holds: memory, and a count only where set;
each model's cost measured as the memory its load added, never below its weights."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serve_app.replica import memory
from serve_app.replica.memory import MIB, ModelBudget, measured_footprint, model_budget


@pytest.mark.parametrize(
    ("budget", "count", "total_mb", "over"),
    [
        (ModelBudget(100 * MIB), 500, 99, False),  # no count: any number that fits
        (ModelBudget(100 * MIB), 1, 101, True),
        (ModelBudget(100 * MIB, max_models=8), 8, 10, False),
        (ModelBudget(100 * MIB, max_models=8), 9, 10, True),  # Roboflow's count
        (ModelBudget(100 * MIB, max_models=8), 2, 100, False),  # the budget itself fits
    ],
)
def test_over_budget(budget: ModelBudget, count: int, total_mb: int, over: bool) -> None:
    assert budget.over(count, total_mb * MIB) is over


def test_the_default_is_a_share_of_the_node_with_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "node_memory_bytes", lambda: 4 * 1024 * MIB)
    assert model_budget(None, None) == ModelBudget(512 * MIB)
    monkeypatch.setattr(memory, "node_memory_bytes", lambda: 512 * 1024 * MIB)
    assert model_budget(None, 8) == ModelBudget(memory.DEFAULT_CAP_MB * MIB, 8)
    assert model_budget(300, None) == ModelBudget(300 * MIB)


def test_this_node_has_memory_to_read() -> None:
    node = memory.node_memory_bytes()
    assert node is not None and node > 256 * MIB


def test_a_footprint_is_the_growth_of_the_load_and_at_least_its_floor() -> None:
    made, footprint = measured_footprint(lambda: np.ones(64 * MIB, np.uint8), 0)
    assert made.nbytes == 64 * MIB
    assert 60 * MIB <= footprint <= 80 * MIB
    _, small = measured_footprint(lambda: None, 3 * MIB)
    assert small == 3 * MIB


def test_loads_that_overlap_count_their_floor() -> None:
    """Each growth would hold the other's memory: neither is trusted."""
    started, release = threading.Event(), threading.Event()

    def slow() -> np.ndarray:
        started.set()
        release.wait(10)
        return np.ones(32 * MIB, np.uint8)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(measured_footprint, slow, 1 * MIB)
        assert started.wait(10)
        _, second = measured_footprint(lambda: np.ones(32 * MIB, np.uint8), 2 * MIB)
        release.set()
        _, first_footprint = first.result(10)
    assert (first_footprint, second) == (1 * MIB, 2 * MIB)
