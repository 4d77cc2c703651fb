"""Every way of stopping ``rfserve start`` ends within Kubernetes' 30 s grace period,
with exit status 0, no process of the server left and its ports free for the next
start: Ctrl-C (SIGINT to the terminal's foreground group), SIGTERM to the start
command, SIGTERM to its process group, and SIGTERM to every process at once (a cgroup
kill). ``configs/edge.yaml`` without ``--edge``: one replica behind HAProxy, whose
process used to outlive a stop and hold the port."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.stop import WAYS, command_line, started, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
START_BOUND_S = 180
GRACE_PERIOD_S = 30
"""Kubernetes' default terminationGracePeriodSeconds: SIGKILL comes after it."""


@pytest.mark.parametrize("way", list(WAYS))
def test_every_way_of_stopping_ends_clean_within_the_grace_period(way: str, tmp_path: Path) -> None:
    with started(ROOT / "configs" / "edge.yaml", [], tmp_path) as server:
        wait_ready(server, START_BOUND_S)
        running = [command_line(pid) for pid in server.pids()]
        assert [line for line in running if "haproxy" in line], running
        stopped = stop(server, way, GRACE_PERIOD_S)
    assert stopped.seconds is not None, f"{way}: still running after {GRACE_PERIOD_S} s"
    assert stopped.exit_code == 0, server.log.read_text()[-3000:]
    assert not stopped.left_running
    assert not stopped.ports_held
