"""Applications deployed beside the session's main one, each with its own settings.

They share the session's Ray and HTTP proxy, under their own name and route prefix,
and ask for little CPU so that the 2-core test machine still schedules them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ray import serve

from serve_app.app import build_app
from serve_app.config import AppConfig, Composition, ServerSettings


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
def deployed(name: str, config: AppConfig, serve_port: int) -> Iterator[str]:
    """Run the application as ``name`` under ``/{name}``; yields its base URL."""
    serve.run(build_app(config), name=name, route_prefix=f"/{name}")
    try:
        yield f"http://127.0.0.1:{serve_port}/{name}"
    finally:
        serve.delete(name)
