"""What the application builder gives each stage from the config: the threads of a
lone forward pass, chosen from the model replicas' layout."""

from __future__ import annotations

from typing import Any

import pytest

from serve_app.app import stage_configs
from serve_app.config import AppConfig
from serve_app.engines.factory import OnnxEngineFactory


def lone_threads_given(args: dict[str, Any]) -> object:
    engines = stage_configs(AppConfig.model_validate(args)).model.engines
    assert isinstance(engines, OnnxEngineFactory)
    return engines.options.lone_threads


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # One fused replica is the whole server: a lone pass takes the node.
        ({"composition": "fused", "model": {"num_replicas": 1, "num_cpus": 1}}, "all"),
        # Replicas side by side: what each reserves, rounded up.
        ({"composition": "fused", "model": {"num_replicas": 2, "num_cpus": 0.5}}, 1),
        ({"composition": "fused", "model": {"autoscaling": {}, "num_cpus": 1.5}}, 2),
        ({"composition": "split", "model": {"num_replicas": 1, "num_cpus": 0.5}}, 1),
        ({"composition": "split", "model": {"num_replicas": 4, "num_cpus": 2}}, 2),
        ({"composition": "split", "model": {"num_cpus": 0}}, 0),
    ],
)
def test_the_builder_chooses_lone_threads_from_the_layout(
    layout: dict[str, Any], expected: object
) -> None:
    assert lone_threads_given(layout) == expected


@pytest.mark.parametrize("given", [0, 3, "all"])
def test_an_explicit_lone_threads_is_kept(given: object) -> None:
    layout = {
        "composition": "fused",
        "model": {"num_replicas": 1},
        "engine": {"lone_threads": given},
    }
    assert lone_threads_given(layout) == given
