"""/model/add, /model/remove, /model/clear, /model/registry and /readiness on a server
with two model replicas that preload ``PRELOAD_MODELS`` from a local folder.

One preload is missing from the folder when the server starts, so readiness can be
watched turning from 503 to 200 when that model arrives.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from serve_app.config import AppConfig, ServerSettings
from tests.fakes import NAME as FAKE_ENGINE
from tests.fakes import FakeEngineFactory
from tests.serve_apps import call, deployed, registry, small_app, wait_until_loaded
from tests.support import b64_image, solid_image

APP = "rfserve-models"
PRELOADED = "fixture-yolov8/1"
LATE = "late-model/1"
"""Preloaded, but missing from the models folder until a test adds it."""


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory, fixture_models_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("local-models")
    for model_id in (PRELOADED, "fixture-yolov8/2"):
        shutil.copytree(fixture_models_dir / model_id, root / model_id)
    return root


@pytest.fixture(scope="module")
def base(
    serve_port: int, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    config = preloading_app(models_dir, tmp_path_factory.mktemp("models-cache"), model_replicas=2)
    with deployed(APP, config, serve_port, FakeEngineFactory()) as url:
        yield url


def preloading_app(models_dir: Path, cache_dir: Path, **layout: Any) -> AppConfig:
    """A small application serving ``models_dir`` that preloads PRELOADED and LATE."""
    settings = ServerSettings(
        model_cache_dir=cache_dir,
        local_models_dir=models_dir,
        weight_sources=["local"],
        preload_models=[PRELOADED, LATE],
    )
    return small_app(settings, **layout)


def infer(base: str, model_id: str) -> httpx.Response:
    body = {"model_id": model_id, "image": b64_image(solid_image(32, 32, (0, 0, 255)))}
    return call(base, "POST", "/infer/object_detection", json=body)


def test_preloads_load_on_every_replica_and_readiness_waits_for_all(
    base: str, models_dir: Path
) -> None:
    entry = wait_until_loaded(base, PRELOADED, replicas=2)
    node = ray.get_runtime_context().get_node_id()
    assert {r["node_id"] for r in entry["replicas"]} == {node}
    assert len({r["replica_id"] for r in entry["replicas"]}) == 2
    r = call(base, "GET", "/readiness")
    assert r.status_code == 503
    assert r.json() == {"status": "not ready", "missing_models": [LATE]}

    shutil.copytree(models_dir / PRELOADED, models_dir / LATE)
    r = call(base, "POST", "/model/add", json={"model_id": LATE})
    assert r.status_code == 200, r.text
    assert LATE in {m["model_id"] for m in r.json()["models"]}
    r = call(base, "GET", "/readiness")
    assert (r.status_code, r.json()["status"]) == (200, "ready")


def test_registry_describes_each_model_and_where_it_is(base: str) -> None:
    r = call(base, "POST", "/model/add", json={"model_id": "fixture-yolov8/2"})
    assert r.status_code == 200, r.text
    entry = {m["model_id"]: m for m in r.json()["models"]}["fixture-yolov8/2"]
    assert len(entry.pop("replicas")) == 1
    assert entry.pop("engines") == [
        {"live": FAKE_ENGINE, "device": "cpu", "build": None, "fallback": None}
    ]
    # Symbolic input size: the environment's resize (320x256) is the input size.
    assert entry == {
        "model_id": "fixture-yolov8/2",
        "task_type": "object-detection",
        "batch_size": None,
        "input_height": 256,
        "input_width": 320,
    }


def test_remove_unloads_from_every_replica_holding_the_model(base: str) -> None:
    wait_until_loaded(base, PRELOADED, replicas=2)
    r = call(base, "POST", "/model/remove", json={"model_id": PRELOADED})
    assert r.status_code == 200, r.text
    assert PRELOADED not in {m["model_id"] for m in r.json()["models"]}
    assert PRELOADED not in registry(base)
    # Served again on demand, by one replica.
    assert infer(base, PRELOADED).status_code == 200
    assert len(registry(base)[PRELOADED]["replicas"]) == 1


def test_clear_unloads_everything_and_readiness_stays(base: str) -> None:
    assert infer(base, "fixture-yolov8/2").status_code == 200
    r = call(base, "POST", "/model/clear")
    assert (r.status_code, r.json()) == (200, {"models": []})
    assert registry(base) == {}
    assert call(base, "GET", "/readiness").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model_id": "nowhere/1"}, 404),
        ({"model_id": "../etc/1"}, 400),
        ({}, 422),
    ],
)
def test_add_refuses_what_it_cannot_load(base: str, body: dict[str, str], status: int) -> None:
    assert call(base, "POST", "/model/add", json=body).status_code == status


def test_the_registry_describes_a_bundled_model_on_its_real_engine(client: httpx.Client) -> None:
    """The session's server, on real engines: on CPU, ``auto`` is ONNX Runtime, with
    nothing to build in the background."""
    r = client.post("/model/add", json={"model_id": "shapes-detection/1"})
    assert r.status_code == 200, r.text
    entry = {m["model_id"]: m for m in r.json()["models"]}["shapes-detection/1"]
    replicas = entry.pop("replicas")
    assert len(replicas) >= 1
    assert entry.pop("engines") == [
        {"live": "onnxruntime", "device": "cpu", "build": None, "fallback": None}
    ] * len(replicas)
    assert entry == {
        "model_id": "shapes-detection/1",
        "task_type": "object-detection",
        "batch_size": None,
        "input_height": 320,
        "input_width": 320,
    }
