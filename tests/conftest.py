"""One local Ray instance and one running application for the whole test session.

Ray and Serve start on the fast path the ``rfserve`` command sets up (HAProxy in
front of the ingress replicas, handles over gRPC), so the tests exercise what users
run. Requests go over real HTTP on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.launch import free_port as bench_free_port
from serve_app.launch.environment import apply_fast_path


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range (32768 up): a port the kernel
    hands out at random could be given to another process before the server binds it,
    and servers that start later than this fixture (HAProxy) would then fail."""
    return bench_free_port(20_000, 29_999)


# Before Ray is imported: Serve reads these once, at import. HAProxy's side ports are
# taken fresh, so a server running beside the tests does not collide with them.
os.environ.setdefault("RAY_SERVE_HAPROXY_METRICS_PORT", str(free_port()))
os.environ.setdefault("RAY_SERVE_HAPROXY_STATS_PORT", str(free_port()))
# An ingress replica keeps answering for this long once told to stop, so HAProxy can
# route around it (30 s by default); tests delete applications often and send nothing
# to one being deleted.
os.environ.setdefault("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "1")
apply_fast_path(os.environ)

import httpx  # noqa: E402
import pytest  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402

from serve_app.app import build_app  # noqa: E402
from serve_app.config import AppConfig, Composition, ServerSettings  # noqa: E402
from tools.fixtures import write_fixture_models  # noqa: E402
from tools.fixtures.packages import write_roboflow_cache  # noqa: E402

APP_NAME = "rfserve-test"


@dataclass(frozen=True)
class RaySession:
    serve_port: int
    """Serve's HTTP port (HAProxy)."""
    metrics_port: int
    """This node's Prometheus endpoint."""
    session_dir: Path
    """Where this Ray instance writes its logs (``logs/serve/replica_*.log``)."""


@pytest.fixture(scope="session")
def ray_session() -> Iterator[RaySession]:
    port, metrics_port = free_port(), free_port()
    # More logical CPUs than cores: deployments ask for fractions, and test apps
    # beside the main one still get scheduled on a 2-core machine. A small object
    # store: several test sessions may share this machine.
    context = ray.init(
        num_cpus=8,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=512 * 2**20,
        _metrics_export_port=metrics_port,
    )
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield RaySession(port, metrics_port, Path(context.address_info["session_dir"]))
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="session")
def serve_port(ray_session: RaySession) -> int:
    return ray_session.serve_port


@pytest.fixture(scope="session")
def fixture_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture-models")
    write_fixture_models(root)
    return root


@pytest.fixture(scope="session")
def roboflow_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MODEL_CACHE_DIR holding models as Roboflow's server writes them."""
    root = tmp_path_factory.mktemp("cache")
    write_roboflow_cache(root)
    return root


@pytest.fixture(scope="session")
def settings(fixture_models_dir: Path, roboflow_cache_dir: Path) -> ServerSettings:
    return ServerSettings(
        model_cache_dir=roboflow_cache_dir,
        local_models_dir=fixture_models_dir,
        url_allow_networks=["127.0.0.1"],
        weight_sources=["local"],
    )


@pytest.fixture(scope="session", params=["split", "fused"])
def composition(request: pytest.FixtureRequest) -> Composition:
    """Every test of the served application runs against both compositions."""
    value: Composition = request.param
    return value


@pytest.fixture(scope="session")
def app_config(settings: ServerSettings, composition: Composition) -> AppConfig:
    return AppConfig.model_validate({"composition": composition, "settings": settings})


@pytest.fixture(scope="session")
def server(serve_port: int, app_config: AppConfig) -> Iterator[str]:
    """Base URL of the application under test."""
    serve.run(build_app(app_config), name=APP_NAME, route_prefix="/")
    yield f"http://127.0.0.1:{serve_port}"
    serve.delete(APP_NAME)


@pytest.fixture(scope="session")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c
