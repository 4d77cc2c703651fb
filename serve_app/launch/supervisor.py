"""The start command's own process supervises the server, so every way of stopping it
ends within Kubernetes' 30 s grace period with nothing left running or listening.

``rfserve start`` forks: the child (the *driver*) starts Ray and runs ``serve run`` in a
session of its own; this process only waits, forwards a stop and cleans up. Why:

* Ctrl-C signals the terminal's foreground process group, and a supervisor's
  ``kill -- -PGID`` that whole group: Ray's daemons run in the driver's group, so both
  reached the GCS and the raylet while the driver was asking Serve to shut down, and
  the shutdown then waited 30 s for a controller that could no longer answer (a stop
  took about a minute). In its own session the driver hears of a stop only from here,
  once, and stops Serve before Ray.
* A signal to every process at once (systemd's ``KillMode=control-group``, a cgroup
  kill) takes Ray's node down under the driver. This process notices the raylet has
  gone, gives the driver :data:`NODE_GONE_GRACE_S`, then ends what remains.
* A process whose parent died without stopping it (HAProxy, when its manager actor is
  killed) keeps its port, so the next start fails with ``cannot bind socket``. This
  process is a child subreaper: orphans of the server become its children, and it ends
  and reaps every one before it exits, also when the driver stops on its own. It is
  therefore a fit PID 1 for a container: it reaps, and it handles SIGTERM.

Whatever still runs :data:`STOP_DEADLINE_S` after the stop was asked for is killed. A
second stop signal kills at once. Linux gives the full picture (``/proc``, the
subreaper); elsewhere the driver's process group is what gets killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from serve_app.launch import process_tree

STOP_DEADLINE_S = 27.0
"""From a stop signal to killing what still runs: inside Kubernetes' default 30 s grace
period, with room to reap. A graceful stop took 6 to 21 s here (README, Stopping)."""

NODE_GONE_GRACE_S = 5.0
"""How long the driver may outlive its Ray node (raylet gone) during a stop: enough to
stop Ray's other daemons and exit on its own, far less than Serve's 30 s wait for a
controller that has gone."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, ``docker stop``/Kubernetes/systemd, and the terminal closing."""

_POLL_S = 0.1
_PR_SET_CHILD_SUBREAPER = 36


def run_supervised(driver: Callable[[], object]) -> int:
    """Run ``driver`` in a forked child in a session of its own and supervise it;
    returns the exit status for the start command. Call it before any thread starts:
    the child is a copy of this process (no command line to parse again)."""
    _become_subreaper()
    pid = os.fork()
    if pid == 0:
        _run_driver(driver)  # never returns
    supervisor = _Supervisor(pid)
    for signum in STOP_SIGNALS:
        signal.signal(signum, supervisor.request_stop)
    return supervisor.wait()


def _run_driver(driver: Callable[[], object]) -> None:
    os.setsid()
    _die_with_parent(signal.SIGTERM)
    # The interpreter exits as a process normally does (atexit runs: Ray's shutdown).
    driver()
    sys.exit(0)


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _die_with_parent(signum: int) -> None:
    """Should the supervisor itself be killed outright, the driver still hears a stop
    (Ray ties its own daemons to the driver the same way)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signum, 0, 0, 0)


def _say(message: str) -> None:
    print(f"rfserve: {message}", file=sys.stderr, flush=True)


@dataclass
class _Supervisor:
    driver_pid: int
    stop_asked_at: float | None = None
    stops_asked: int = 0
    forwarded: bool = False
    driver_status: int | None = None
    node: list[int] = field(default_factory=list)
    """The driver's raylet(s), noted when the stop begins."""
    node_gone_at: float | None = None

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stops_asked += 1
        if self.stop_asked_at is None:
            self.stop_asked_at = time.monotonic()
            _say(f"{signal.Signals(signum).name}: stopping Serve, then Ray")

    def wait(self) -> int:
        while True:
            self._reap()
            status = self.driver_status
            if status is None and self.stop_asked_at is not None:
                status = self._stop_step(self.stop_asked_at)
            if status is not None:
                self._end_the_rest()
                if self.stop_asked_at is not None:
                    _say(f"stopped in {time.monotonic() - self.stop_asked_at:.1f} s")
                return status
            time.sleep(_POLL_S)

    def _stop_step(self, asked_at: float) -> int | None:
        """One step of a stop asked for at ``asked_at``: an exit status once the driver
        is to be killed, else None (keep waiting)."""
        now = time.monotonic()
        if not self.forwarded:
            self.forwarded = True
            self.node = [
                pid
                for pid in process_tree.descendants(self.driver_pid)
                if process_tree.executable_name(pid) == "raylet"
            ]
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.driver_pid, signal.SIGTERM)
        if self.stops_asked > 1:
            _say("asked twice: killing the server now")
            return 1
        if now - asked_at > STOP_DEADLINE_S:
            _say(f"the server did not stop within {STOP_DEADLINE_S:g} s: killed")
            return 1
        if self.node and not any(process_tree.is_running(pid) for pid in self.node):
            self.node_gone_at = self.node_gone_at or now
            if now - self.node_gone_at > NODE_GONE_GRACE_S:
                # Ray's node was stopped under the driver (a signal to every process):
                # Serve has nothing left to shut down, however long it would wait.
                _say("Ray's node has stopped: ending what is left of the server")
                return 0
        return None

    def _reap(self) -> None:
        """Collect every exited child (the driver, and orphans handed to this process)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.driver_pid:
                code = os.waitstatus_to_exitcode(status)
                # As a shell reports a process killed by a signal: 128 + its number.
                self.driver_status = code if code >= 0 else 128 - code

    def _end_the_rest(self, bound_s: float = 5.0) -> None:
        """Kill whatever of the server still runs and reap it; bounded, since a process
        stuck in the kernel cannot be hurried."""
        if not process_tree.has_proc():
            if self.driver_status is None:
                os.killpg(self.driver_pid, signal.SIGKILL)
                os.waitpid(self.driver_pid, 0)
            return
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            left = [pid for pid in process_tree.descendants() if process_tree.is_running(pid)]
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._reap()
            if not left:
                return
            time.sleep(_POLL_S)
