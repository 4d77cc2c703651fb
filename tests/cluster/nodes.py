"""Ray nodes started with ``ray start --block``, each in its own process group (and,
where there is one, its own network namespace), so a test can lose one whole node
without touching any other Ray on the machine.

Every port a node binds is chosen fresh: on loopback the nodes share one network
stack with each other, the test session's Ray and whatever else runs here. HAProxy's
files go to the cluster's own folder for the same reason (Serve puts them in
``/tmp/haproxy-serve`` by default, which every Serve on the machine shares).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.processes import descendants
from serve_app.launch.environment import FAST_PATH
from tests.cluster.netns import Host
from tests.conftest import free_port

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[2]


def cluster_environment(folder: Path) -> dict[str, str]:
    """The environment of every node's processes: this one without a Ray address to
    leak into ``ray start``, with Serve's fast path (read when Ray starts) and this
    checkout first on the import path of every worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    haproxy = folder / "haproxy"
    env.update(
        FAST_PATH,
        RAY_SERVE_HAPROXY_METRICS_PORT=str(free_port()),
        RAY_SERVE_HAPROXY_STATS_PORT=str(free_port()),
        RAY_SERVE_HAPROXY_CONFIG_FILE_LOC=str(haproxy / "haproxy.cfg"),
        RAY_SERVE_HAPROXY_SOCKET_PATH=str(haproxy / "admin.sock"),
        RAY_SERVE_HAPROXY_SERVER_STATE_BASE=str(haproxy),
        RAY_SERVE_HAPROXY_SERVER_STATE_FILE=str(haproxy / "server-state"),
        RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH=str(haproxy / "metrics.sock"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        RAY_USAGE_STATS_ENABLED="0",
        # `ray start --head` turns token auth on when ~/.ray/auth_token exists, and a
        # driver joining by address does not: a cluster that lives for one test has no
        # use for either.
        RAY_AUTH_MODE="disabled",
    )
    return env


@dataclass
class RayNode:
    name: str
    address: str
    """The node's IP address (``--node-ip-address``)."""
    process: subprocess.Popen[bytes]
    """``ray start --block``: the node's processes all descend from it."""
    host: Host | None
    """The namespace the node runs in; None on loopback."""

    def kill(self) -> None:
        """Lose the node at once, as a machine that dies does: SIGKILL to every process
        in its namespace, or on loopback to ``ray start`` and all its descendants (HAProxy
        runs in a session of its own, so the process group alone misses it)."""
        doomed = set(self.host.pids()) if self.host else set()
        doomed |= {self.process.pid, *descendants(self.process.pid)}
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def start_node(
    name: str,
    address: str,
    *,
    temp_dir: Path,
    env: Mapping[str, str],
    head_gcs: str | None = None,
    gcs_port: int = 0,
    num_cpus: float,
    resources: Mapping[str, float] | None = None,
    host: Host | None = None,
) -> RayNode:
    """A head (``head_gcs`` None; its GCS on ``gcs_port``) or a worker joining
    ``head_gcs``, writing under ``temp_dir/{name}`` (its own: nodes started at once in
    one folder pick the same socket names); ``ray start`` logs to ``{name}.log`` there."""
    temp_dir = temp_dir / name
    temp_dir.mkdir()
    argv = [
        RAY,
        "start",
        "--block",
        "--disable-usage-stats",
        f"--node-ip-address={address}",
        f"--num-cpus={num_cpus:g}",
        f"--resources={json.dumps(dict(resources or {}))}",
        f"--temp-dir={temp_dir}",
        f"--object-store-memory={100 * 2**20}",
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]
    if head_gcs is None:
        argv += [
            "--head",
            f"--port={gcs_port}",
            "--include-dashboard=false",
            f"--ray-client-server-port={free_port()}",
        ]
    else:
        argv.append(f"--address={head_gcs}")
    log = (temp_dir / "ray-start.log").open("wb")
    process = subprocess.Popen(
        host.command(argv) if host else argv,
        env=dict(env),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return RayNode(name, address, process, host)


def wait_for_port(address: str, port: int, node: RayNode, timeout_s: float = 60) -> None:
    """Until something accepts connections on ``address:port``; fails at once if the
    node's ``ray start`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"{node.name}: ray start exited with {node.process.returncode}")
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((address, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{node.name}: nothing listens on {address}:{port} after {timeout_s:g} s")
