"""The application under test: its config from a serve YAML, and a local server on the
fast path, started in this process."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serve_app.config import AppConfig, ServerSettings

IMPORT_PATH = "serve_app.app:build_app"


@dataclass(frozen=True)
class Overrides:
    """Command-line changes to the YAML's ``args``."""

    model_id: str
    cache_dir: Path
    local_models_dir: Path | None = None


def read_app_args(config_path: Path) -> dict[str, Any]:
    """The ``args`` of the application built by ``serve_app.app:build_app``."""
    document = yaml.safe_load(config_path.read_text()) or {}
    for application in document.get("applications", []):
        if application.get("import_path") == IMPORT_PATH:
            return dict(application.get("args") or {})
    raise ValueError(f"{config_path}: no application with import_path {IMPORT_PATH}")


def build_config(args: dict[str, Any], overrides: Overrides) -> AppConfig:
    settings: dict[str, Any] = dict(args.get("settings") or {})
    _set_setting(settings, "model_cache_dir", str(overrides.cache_dir))
    _set_setting(settings, "preload_models", [overrides.model_id])
    if overrides.local_models_dir is not None:
        _set_setting(settings, "local_models_dir", str(overrides.local_models_dir))
        _set_setting(settings, "weight_sources", ["local"])
    return AppConfig.model_validate({**args, "settings": settings})


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


def prepare_environment(fast_path: bool, extra: dict[str, str]) -> dict[str, str]:
    """Ray Serve's start-up settings for this run, set before Ray is first imported;
    returns the ``RAY_SERVE_*`` variables that apply."""
    from serve_app.launch.environment import apply_fast_path

    os.environ.update(extra)
    # Deleting an application waits this long for HAProxy to route around its ingress.
    os.environ.setdefault("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "1")
    if fast_path:
        apply_fast_path(os.environ)
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("RAY_SERVE_")}


@contextmanager
def local_serve(ray_cpus: int) -> Iterator[int]:
    """A fresh local Ray with Serve listening on 127.0.0.1; yields the HTTP port."""
    import ray
    from ray import serve

    port = free_port()
    # address="local": always a private instance, never a cluster someone else started.
    ray.init(address="local", num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield port
    finally:
        serve.shutdown()
        ray.shutdown()


@contextmanager
def deployed(config: AppConfig, port: int) -> Iterator[str]:
    """``config``'s application at ``/``; yields its base URL."""
    from ray import serve

    from serve_app.app import build_app

    serve.run(build_app(config), name=config.name, route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.delete(config.name)
