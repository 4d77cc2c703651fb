"""``rfserve start configs/edge.yaml --edge`` from a clean shell: it serves the bundled
model, runs without HAProxy or an idle task worker, and a SIGTERM stops every process
it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from bench.processes import descendants
from tests.conftest import free_port
from tests.support import example_image, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
START_BOUND_S = 180
STOP_BOUND_S = 60


def clean_environment(cache: Path) -> dict[str, str]:
    """This process's environment less Ray's and Serve's settings (the suite sets its
    own), as a user's shell has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RFSERVE_"))}
    return {**env, "MODEL_CACHE_DIR": str(cache)}


def command_lines(pids: list[int]) -> list[str]:
    """Of the processes still running (a zombie has an empty command line)."""
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            lines += [line] if line else []
    return lines


def _is_replica(pid: int) -> bool:
    return any(line.startswith("ray::ServeReplica") for line in command_lines([pid]))


def test_edge_start_serves_trimmed_and_stops_clean(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "configs" / "edge.yaml").read_text())
    port = free_port()
    config["http_options"]["port"] = port
    (tmp_path / "edge.yaml").write_text(yaml.safe_dump(config))
    rfserve = str(Path(sys.executable).with_name("rfserve"))
    command = [rfserve, "start", str(tmp_path / "edge.yaml"), "--edge"]
    command += ["--metrics-export-port", str(free_port())]
    server = subprocess.Popen(  # noqa: S603
        command,
        env=clean_environment(tmp_path / "cache"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    started: list[int] = []
    try:
        wait_until_ready(url, START_BOUND_S, server)
        r = httpx.post(
            f"{url}/infer/object_detection",
            json={"model_id": "shapes-detection/1", "image": example_image()},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["predictions"]

        started = descendants(server.pid)
        lines = command_lines(started)
        assert not [line for line in lines if "haproxy" in line.lower()], lines
        assert not [line for line in lines if line.startswith("ray::IDLE")], lines
        # One deployment of one replica, its registry inside it.
        replicas = [pid for pid in started if _is_replica(pid)]
        assert len(replicas) == 1, lines
        # The serving path runs at niceness 0, not Ray's 15 for its workers.
        assert os.getpriority(os.PRIO_PROCESS, replicas[0]) == 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(STOP_BOUND_S) == 0
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
    survivors = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert not command_lines(survivors), "processes left behind"
