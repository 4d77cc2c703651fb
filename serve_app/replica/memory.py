"""How much memory the models of a replica take, and how much they may.

A replica holds models until they pass its budget (``RFSERVE_MODEL_MEMORY_MB``), then
unloads the least recently used: the limit is what a model costs, not a count. A
model's cost is measured when its engine is made, as the growth of the process's
resident memory meanwhile (never less than its weights file): weights, the runtime's
copies of them and the graph. Activations are not a model's own: every ONNX Runtime
session of a replica on CPU draws them from one shared arena (``engines/onnxruntime.py``).
A growth is counted only where no other engine was being made meanwhile (else the
weights file stands for it); forward passes of held models go on meanwhile (their
allocations are transient, and add noise of a few MiB at most).

The bundled detectors (2 MB of weights) cost 2 to 5 MiB each, with or without a
lone-pass session beside the first (the first model a replica loads also counts the
runtime's own start, about 30 MiB): Roboflow's count of 8 per replica evicted the
model needed next as soon as 9 were in use in turn, while memory held hundreds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MIB = 2**20
DEFAULT_SHARE = 8
"""The default budget is an eighth of the node's memory: the replicas that hold models
on a node are seldom more than four, so models take at most half of it and decoding,
Ray and the system keep the rest."""
DEFAULT_CAP_MB = 4096
"""And at most this: a replica that needs more models than that is better split."""

_PROC_MEMINFO = Path("/proc/meminfo")
_PROC_STATM = Path("/proc/self/statm")
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2: a container's or pod's limit
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)
_guard = threading.Lock()
_making = 0
"""Engines being made in this process now."""
_started = 0
"""Engines whose making has started, ever."""


@dataclass(frozen=True)
class ModelBudget:
    """What a replica may hold: models up to ``memory_bytes`` in all, and no more than
    ``max_models`` where a count is set (Roboflow's ``MAX_ACTIVE_MODELS``)."""

    memory_bytes: int
    max_models: int | None = None

    def over(self, count: int, total_bytes: int) -> bool:
        too_many = self.max_models is not None and count > self.max_models
        return too_many or total_bytes > self.memory_bytes


def model_budget(memory_mb: int | None, max_models: int | None) -> ModelBudget:
    """The budget the settings give, the default computed on this replica's node."""
    if memory_mb is None:
        node = node_memory_bytes()
        share = node // DEFAULT_SHARE if node is not None else DEFAULT_CAP_MB * MIB
        return ModelBudget(min(share, DEFAULT_CAP_MB * MIB), max_models)
    return ModelBudget(memory_mb * MIB, max_models)


def measured_footprint(make: Callable[[], T], floor_bytes: int) -> tuple[T, int]:
    """``make()``, and how much resident memory it added, at least ``floor_bytes``.

    The growth is this load's only where no other engine was being made in the process
    meanwhile; where loads overlap (they run at once rather than wait for each
    other), each counts ``floor_bytes`` instead."""
    global _making, _started
    with _guard:
        _making += 1
        _started += 1
        alone, started = _making == 1, _started
    before = resident_bytes()
    try:
        made = make()
    finally:
        after = resident_bytes()
        with _guard:
            _making -= 1
            alone = alone and _started == started
    grown = after - before if alone and before is not None and after is not None else 0
    return made, max(grown, floor_bytes)


def resident_bytes() -> int | None:
    """This process's resident memory; None where /proc does not say (not Linux)."""
    try:
        return int(_PROC_STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def node_memory_bytes() -> int | None:
    """The memory this process's node has: its physical memory, or its container's
    limit where that is lower; None where neither can be read."""
    sizes = []
    try:
        for line in _PROC_MEMINFO.read_text().splitlines():
            if line.startswith("MemTotal:"):
                sizes.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    for path in _CGROUP_LIMITS:
        try:
            sizes.append(int(path.read_text().strip()))  # "max" (no limit) is skipped
        except (OSError, ValueError):
            continue
    return min(sizes) if sizes else None
