"""The application under test: its config from a serve YAML, and a local in-process server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serve_app.config import AppConfig, ServerSettings

IMPORT_PATH = "serve_app.app:build_app"
MODEL_DEPLOYMENT = "ModelReplica"


@dataclass(frozen=True)
class Overrides:
    """Command-line changes to the YAML's ``args``; None keeps the YAML's value."""

    model_id: str
    cache_dir: Path
    local_models_dir: Path | None = None
    max_batch_size: int | None = None
    batch_wait_timeout_s: float | None = None
    num_threads: int | None = None


def read_app_args(config_path: Path) -> dict[str, Any]:
    """The ``args`` of the application built by ``serve_app.app:build_app``."""
    document = yaml.safe_load(config_path.read_text()) or {}
    for application in document.get("applications", []):
        if application.get("import_path") == IMPORT_PATH:
            return dict(application.get("args") or {})
    raise ValueError(f"{config_path}: no application with import_path {IMPORT_PATH}")


def build_config(args: dict[str, Any], overrides: Overrides) -> AppConfig:
    args = dict(args)
    batching = dict(args.get("batching") or {})
    _set_if_given(batching, "max_batch_size", overrides.max_batch_size)
    _set_if_given(batching, "batch_wait_timeout_s", overrides.batch_wait_timeout_s)
    engine = dict(args.get("engine") or {})
    _set_if_given(engine, "num_threads", overrides.num_threads)
    settings: dict[str, Any] = dict(args.get("settings") or {})
    _set_setting(settings, "model_cache_dir", str(overrides.cache_dir))
    _set_setting(settings, "preload_models", [overrides.model_id])
    if overrides.local_models_dir is not None:
        _set_setting(settings, "local_models_dir", str(overrides.local_models_dir))
        _set_setting(settings, "weight_sources", ["local"])
    return AppConfig.model_validate(
        {**args, "batching": batching, "engine": engine, "settings": settings}
    )


def _set_if_given(section: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        section[key] = value


def _set_setting(settings: dict[str, Any], field: str, value: object) -> None:
    """Set a setting that the YAML may spell by field name or by environment alias."""
    alias = ServerSettings.model_fields[field].validation_alias
    for key in (field, alias):
        settings.pop(str(key), None)
    settings[str(alias)] = value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_server(config: AppConfig, ray_cpus: int) -> Iterator[str]:
    """Run the application on a fresh local Ray; yields its base URL on 127.0.0.1."""
    import ray
    from ray import serve

    from serve_app.app import build_app

    port = free_port()
    # address="local": always a private instance, never a cluster someone else started.
    ray.init(address="local", num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(config), name=config.name, route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def model_replica_stats(app_name: str) -> dict[str, object] | None:
    """Batch counters of one model replica of the local server (None when unavailable)."""
    from ray import serve

    try:
        handle = serve.get_deployment_handle(MODEL_DEPLOYMENT, app_name=app_name)
        stats: dict[str, object] = handle.stats.remote().result(timeout_s=30)
    except Exception:  # stats are a nice-to-have: never fail a benchmark over them
        return None
    return stats
