"""Every config for one CPU machine starts and serves: its application, with the
config's own deployment options, on the test session's Ray, answers a detection on
the bundled model it preloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from serve_app.config import AppConfig
from tests.deploy.serve_configs import deployments
from tests.serve_apps import deployed
from tests.support import example_image, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def _fits_a_cpu_machine(path: Path) -> bool:
    for application in yaml.safe_load(path.read_text())["applications"]:
        for deployment in deployments(application.get("args", {})).values():
            if deployment.num_gpus or deployment.label_selector or deployment.resources:
                return False
    return True


CPU_CONFIGS = [p for p in sorted((ROOT / "configs").glob("*.yaml")) if _fits_a_cpu_machine(p)]


@pytest.mark.parametrize("path", CPU_CONFIGS, ids=lambda p: p.name)
def test_cpu_config_starts_and_serves(path: Path, serve_port: int, tmp_path: Path) -> None:
    (application,) = yaml.safe_load(path.read_text())["applications"]
    args: dict[str, Any] = application["args"]
    settings = {**args.get("settings", {}), "MODEL_CACHE_DIR": str(tmp_path)}
    config = AppConfig.model_validate({**args, "settings": settings})
    (model_id,) = config.settings.preload_models
    with deployed(f"config-{path.stem}", config, serve_port) as url:
        wait_until_ready(url, 120)
        r = httpx.post(
            f"{url}/infer/object_detection",
            json={"model_id": model_id, "image": example_image()},
            timeout=60,
        )
    assert r.status_code == 200, r.text
    assert r.json()["predictions"], "the bundled detector finds the example's shapes"


def test_the_cpu_configs_are_those_a_laptop_runs() -> None:
    assert {p.name for p in CPU_CONFIGS} == {"local.yaml", "split.yaml", "edge.yaml"}
