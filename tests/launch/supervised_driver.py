"""A stand-in for the server's driver, run under the real supervisor:

    python -m tests.launch.supervised_driver SCENARIO PORT STATE_DIR

The driver starts a process that listens on PORT from a session of its own and is
orphaned at once (as HAProxy is when the actor that started it dies), and one named
``raylet`` (Ray's node), writes their pids to STATE_DIR once the port is held, then
behaves per SCENARIO:

* ``exits``: a stop ends it at once, the listener left running;
* ``stubborn``: it ignores stops (a shutdown waiting on something that has gone);
* ``fails``: it exits with status 3 on its own, without a stop.

The supervisor's waits are shortened (tenths of their real values), so each scenario
ends within seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from serve_app.launch import supervisor

LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(); time.sleep(600)\n"
)


def spawn_orphan_listener(port: int) -> int:
    """A listener whose parent exits at once, so it is nobody's child but the
    supervisor's (its subreaper)."""
    middle = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "import subprocess, sys; print(subprocess.Popen(sys.argv[1:],"
         " start_new_session=True, stdout=subprocess.DEVNULL).pid)",
         sys.executable, "-c", LISTENER, str(port)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = middle.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while not listening(port):
        assert time.monotonic() < deadline, "the listener never listened"
        time.sleep(0.05)
    return int(out)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def spawn_node(state: Path) -> int:
    """A process the kernel names ``raylet``, as Ray's node is named."""
    raylet = state / "raylet"
    raylet.symlink_to("/bin/sleep")
    return subprocess.Popen([str(raylet), "600"]).pid  # noqa: S603


def main() -> None:
    scenario, port, state = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    supervisor.STOP_DEADLINE_S = 3.0
    supervisor.NODE_GONE_GRACE_S = 0.5

    def driver() -> None:
        stopped = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopped
            stopped = scenario != "stubborn"

        signal.signal(signal.SIGTERM, stop)
        pids = [spawn_orphan_listener(port), spawn_node(state)]
        (state / "pids.part").write_text(" ".join(map(str, [os.getpid(), *pids])))
        (state / "pids.part").rename(state / "pids")
        if scenario == "fails":
            sys.exit(3)
        while not stopped:
            time.sleep(0.05)

    sys.exit(supervisor.run_supervised(driver))


if __name__ == "__main__":
    main()
