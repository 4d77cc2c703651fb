"""Another workload on the machine: processes that each keep a core busy.

Ray starts its workers, so every replica and HAProxy, at niceness 15
(``RAY_worker_niceness``): beside other work at niceness 0 they get what that work
leaves. ``--busy N`` runs N such processes during every measured point, so a server
at one niceness and at another can be compared where that matters.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_SPIN = "while True: pass"


@contextmanager
def busy(count: int) -> Iterator[list[int]]:
    """``count`` processes spinning at this process's niceness (0 for a shell's
    command) while the block runs; yields their pids."""
    processes = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(count)]
    try:
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
