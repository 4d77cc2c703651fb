"""CPU time the server spends, measured from outside it.

Every process on the machine is counted (``/proc/stat``) and this process, the load
generator, is taken out: what is left is the server's, all of its processes together
(HAProxy, Ray's daemons, every replica), whichever server it is. Other work on the
machine counts as the server's too, so measure on a quiet machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# user, nice, system, irq, softirq, steal: the columns of busy time in /proc/stat.
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def machine_busy_cpu_s() -> float:
    """Busy CPU seconds of every process since boot."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    return sum(int(fields[i]) for i in _BUSY_COLUMNS) / _TICKS_PER_S


@dataclass
class CpuMeter:
    """CPU seconds spent outside this process between :meth:`start` and :meth:`stop`."""

    machine_start: float = 0.0
    own_start: float = 0.0
    wall_start: float = 0.0

    def start(self) -> None:
        self.machine_start = machine_busy_cpu_s()
        self.own_start = time.process_time()
        self.wall_start = time.perf_counter()

    def stop(self) -> tuple[float, float]:
        """(CPU seconds outside this process, CPU seconds of this process)."""
        own = time.process_time() - self.own_start
        machine = machine_busy_cpu_s() - self.machine_start
        return max(machine - own, 0.0), own
