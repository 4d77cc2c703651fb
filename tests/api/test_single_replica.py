"""A fused server of one replica keeps the model registry inside that replica (the edge
mode): no registry deployment runs, and the model routes and readiness behave as they
do with a registry deployment."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray import serve

from tests.api.test_models_routes import LATE, PRELOADED, infer, preloading_app
from tests.fakes import FakeEngineFactory
from tests.serve_apps import call, deployed, registry, wait_until_loaded

APP = "rfserve-single"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory, fixture_models_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("single-models")
    shutil.copytree(fixture_models_dir / PRELOADED, root / PRELOADED)
    return root


@pytest.fixture(scope="module")
def base(
    serve_port: int, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    config = preloading_app(
        models_dir, tmp_path_factory.mktemp("single-cache"), composition="fused"
    )
    with deployed(APP, config, serve_port, FakeEngineFactory()) as url:
        yield url


def test_one_deployment_and_no_registry_beside_it(base: str) -> None:
    assert set(serve.status().applications[APP].deployments) == {"FusedIngress"}


def test_readiness_waits_for_every_preload_then_the_routes_follow_the_replica(
    base: str, models_dir: Path
) -> None:
    wait_until_loaded(base, PRELOADED, replicas=1)
    r = call(base, "GET", "/readiness")
    assert (r.status_code, r.json()["missing_models"]) == (503, [LATE])
    shutil.copytree(models_dir / PRELOADED, models_dir / LATE)
    assert call(base, "POST", "/model/add", json={"model_id": LATE}).status_code == 200
    assert call(base, "GET", "/readiness").status_code == 200
    assert len(registry(base)[LATE]["replicas"]) == 1

    r = call(base, "POST", "/model/remove", json={"model_id": PRELOADED})
    assert PRELOADED not in {m["model_id"] for m in r.json()["models"]}
    assert PRELOADED not in registry(base)
    assert infer(base, PRELOADED).status_code == 200  # loaded again on demand
    assert PRELOADED in registry(base)

    assert call(base, "POST", "/model/clear").json() == {"models": []}
    assert registry(base) == {}
