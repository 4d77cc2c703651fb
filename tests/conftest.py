"""One local Ray instance and one running application for the whole test session.

Requests go over real HTTP on loopback to Ray Serve's proxy.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
from ray import serve

from serve_app.app import build_app
from serve_app.config import AppConfig, ServerSettings
from tools.fixtures import write_fixture_models

APP_NAME = "rfserve-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def serve_port() -> Iterator[int]:
    port = free_port()
    # More logical CPUs than cores: deployments ask for fractions, and test apps
    # beside the main one still get scheduled on a 2-core machine.
    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="session")
def fixture_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture-models")
    write_fixture_models(root)
    return root


@pytest.fixture(scope="session")
def settings(fixture_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ServerSettings:
    return ServerSettings(
        model_cache_dir=tmp_path_factory.mktemp("cache"),
        local_models_dir=fixture_models_dir,
        url_allow_networks=["127.0.0.1"],
        weight_sources=["local"],
    )


@pytest.fixture(scope="session")
def app_config(settings: ServerSettings) -> AppConfig:
    return AppConfig.model_validate(
        {"batching": {"max_batch_size": 8, "batch_wait_timeout_s": 0.05}, "settings": settings}
    )


@pytest.fixture(scope="session")
def server(serve_port: int, app_config: AppConfig) -> str:
    """Base URL of the application under test."""
    serve.run(build_app(app_config), name=APP_NAME, route_prefix="/")
    return f"http://127.0.0.1:{serve_port}"


@pytest.fixture(scope="session")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c
