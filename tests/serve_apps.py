"""Applications deployed beside the session's main one, each with its own settings.

They share the session's Ray and HTTP proxy, under their own name and route prefix,
and ask for little CPU so that the 2-core test machine still schedules them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import ray
from ray import serve

from serve_app.app import build_graph
from serve_app.config import AppConfig, Composition, ServerSettings
from serve_app.engines.factory import EngineFactory


def small_app(
    settings: ServerSettings,
    *,
    composition: Composition = "split",
    preprocessing_replicas: int = 1,
    model_replicas: int = 1,
    engine: dict[str, object] | None = None,
) -> AppConfig:
    def deployment(replicas: int) -> dict[str, object]:
        return {"num_replicas": replicas, "num_cpus": 0.05}

    return AppConfig.model_validate(
        {
            "composition": composition,
            "ingress": deployment(1),
            "preprocessing": deployment(preprocessing_replicas),
            "model": deployment(model_replicas),
            "engine": engine or {},
            "settings": settings,
        }
    )


@contextmanager
def deployed(
    name: str, config: AppConfig, serve_port: int, engines: EngineFactory | None = None
) -> Iterator[str]:
    """Run the application as ``name`` under ``/{name}``; yields its base URL. With
    ``engines``, its model replicas make their engines so (``tests/fakes.py``)."""
    serve.run(build_graph(config, engines), name=name, route_prefix=f"/{name}")
    url = f"http://127.0.0.1:{serve_port}/{name}"
    try:
        _wait_until_routed(url)
        yield url
    finally:
        serve.delete(name)


def _wait_until_routed(url: str, timeout_s: float = 60.0) -> None:
    """The HTTP proxy learns a new route a little after ``serve.run`` returns (seconds,
    on a loaded machine): wait for it, so the first test does not get a 404."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/healthz", timeout=10).status_code == 404:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} is not routed after {timeout_s:g} s")
        time.sleep(0.2)


def replica_actors(app: str, deployment: str) -> list[ray.actor.ActorHandle]:
    """The live replica actors of ``deployment`` in the application ``app``."""
    names = [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["name"].startswith(f"SERVE_REPLICA::{app}#{deployment}#")
    ]
    return [ray.get_actor(name, namespace="serve") for name in names]


def call(base: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{base}{path}", timeout=60, **kwargs)


def registry(base: str) -> dict[str, dict[str, Any]]:
    """``/model/registry`` by model id."""
    r = call(base, "GET", "/model/registry")
    assert r.status_code == 200, r.text
    return {m["model_id"]: m for m in r.json()["models"]}


def wait_until_loaded(base: str, model_id: str, replicas: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (entry := registry(base).get(model_id)) is None or len(entry["replicas"]) < replicas:
        assert time.monotonic() < deadline, registry(base)
        time.sleep(0.2)
    return entry
