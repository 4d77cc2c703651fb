"""Deployment options → the options Ray Serve takes: replica counts or the autoscaler,
placement by resources and labels, bounded queues."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serve_app.config import AppConfig, DeploymentConfig


def test_defaults_fit_one_small_machine() -> None:
    options = DeploymentConfig().ray_options()
    assert options["num_replicas"] == 1 and "autoscaling_config" not in options
    assert options["ray_actor_options"] == {"num_cpus": 0.25, "num_gpus": 0.0}
    assert options["max_queued_requests"] == 64
    assert options["backpressure_config"] == {"retry_after_s": 1.0}
    assert options["logging_config"] == {"enable_access_log": False}


def test_autoscaling_replaces_the_fixed_count_and_placement_reaches_the_actor() -> None:
    config = DeploymentConfig.model_validate(
        {
            "num_replicas": 3,
            "autoscaling": {"min_replicas": 1, "max_replicas": 6, "target_ongoing_requests": 8},
            "num_gpus": 0.5,
            "resources": {"gpu_node": 0.01},
            "label_selector": {"rfserve.io/pool": "gpu"},
        }
    )
    options = config.ray_options({"A": "1"})
    assert "num_replicas" not in options
    assert options["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 6,
        "target_ongoing_requests": 8.0,
        "upscale_delay_s": 10.0,
        "downscale_delay_s": 300.0,
    }
    assert options["ray_actor_options"] == {
        "num_cpus": 0.25,
        "num_gpus": 0.5,
        "resources": {"gpu_node": 0.01},
        "label_selector": {"rfserve.io/pool": "gpu"},
        "runtime_env": {"env_vars": {"A": "1"}},
    }


def test_an_autoscaler_that_cannot_reach_its_minimum_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_replicas"):
        AppConfig.model_validate({"model": {"autoscaling": {"min_replicas": 5, "max_replicas": 2}}})
