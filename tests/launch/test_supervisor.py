"""The start command's supervisor, with a stand-in driver (tests/launch/supervised_driver.py)
in place of Ray: whatever way the driver ends, nothing it started is left running or
unreaped, and no port stays held; a stop it cannot finish is cut short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.stop import can_bind, free_port
from serve_app.launch.process_tree import descendants, is_running

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 20


class Supervised:
    def __init__(self, scenario: str, state: Path) -> None:
        self.port = free_port()
        self.state = state
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "tests.launch.supervised_driver", scenario,
             str(self.port), str(state)],
            cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + BOUND_S
        while not (state / "pids").exists():
            assert time.monotonic() < deadline, "the driver never started"
            time.sleep(0.05)
        self.driver, self.listener, self.node = map(int, (state / "pids").read_text().split())

    def finish(self) -> tuple[int, str]:
        """The supervisor's exit status and what it said."""
        try:
            _, said = self.process.communicate(timeout=BOUND_S)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode, said

    def assert_nothing_left(self) -> None:
        started = [self.driver, self.listener, self.node]
        assert not [pid for pid in started if is_running(pid)], "left running"
        # Reaped, too: a zombie would still be listed below this test's process.
        assert not {self.driver, self.listener, self.node} & set(descendants())
        assert can_bind(self.port), "the orphan's port is still held"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path


def test_a_stop_the_driver_finishes_ends_its_orphans_too(state: Path) -> None:
    run = Supervised("exits", state)
    assert run.driver != run.process.pid, "the driver runs in a process of its own"
    assert os.getsid(run.driver) == run.driver, "in a session of its own"
    assert descendants(run.process.pid) and run.listener in descendants(run.process.pid), (
        "the orphaned listener is handed to the supervisor (a subreaper)"
    )
    run.process.send_signal(signal.SIGTERM)
    status, said = run.finish()
    assert status == 0, said
    run.assert_nothing_left()


def test_ctrl_c_reaches_only_the_supervisor_which_forwards_it_once(state: Path) -> None:
    run = Supervised("exits", state)
    os.killpg(run.process.pid, signal.SIGINT)  # the terminal's foreground group
    status, said = run.finish()
    assert status == 0, said
    assert said.count("stopping") == 1
    run.assert_nothing_left()


def test_a_driver_exiting_on_its_own_passes_its_status_on(state: Path) -> None:
    run = Supervised("fails", state)
    status, said = run.finish()
    assert status == 3, said
    run.assert_nothing_left()


def test_a_stop_that_does_not_finish_is_cut_at_the_deadline(state: Path) -> None:
    run = Supervised("stubborn", state)
    run.process.send_signal(signal.SIGTERM)
    status, said = run.finish()
    assert status == 1 and "did not stop within 3 s" in said, said
    run.assert_nothing_left()


def test_a_second_stop_kills_at_once(state: Path) -> None:
    run = Supervised("stubborn", state)
    run.process.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the first is taken and forwarded
    run.process.send_signal(signal.SIGINT)
    status, said = run.finish()
    assert status == 1 and "asked twice" in said, said
    run.assert_nothing_left()


def test_a_driver_whose_ray_node_has_gone_is_ended_cleanly(state: Path) -> None:
    """A signal to every process: Ray's node stops under the driver, whose Serve
    shutdown would then wait for nothing."""
    run = Supervised("stubborn", state)
    for pid in (run.process.pid, run.driver, run.node):
        os.kill(pid, signal.SIGTERM)
    status, said = run.finish()
    assert status == 0 and "node has stopped" in said, said
    run.assert_nothing_left()
