"""The processes of a server started from this process, and their memory, from /proc
(every server process is a descendant of the start command:
:mod:`serve_app.launch.process_tree`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serve_app.launch.process_tree import descendants

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    name: str
    """The command line's first words, as Ray sets them (``ray::ServeReplica:...``)."""
    rss_bytes: int
    pss_bytes: int
    """Proportional set size: shared pages split between the processes sharing them,
    so the PSS of all processes adds up to what they hold together."""


def memory_of(pid: int) -> ProcessMemory | None:
    """None for a process that has gone."""
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        rollup = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return None
    fields = {}
    for line in rollup.splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[-1] == "kB":
            fields[key.strip()] = int(parts[0]) * 1024
    name = " ".join(command.split()[:2])[:80] or f"pid {pid}"
    return ProcessMemory(pid, name, fields.get("Rss", 0), fields.get("Pss", 0))


def server_memory(root: int | None = None) -> list[ProcessMemory]:
    return [m for pid in descendants(root) if (m := memory_of(pid)) is not None]


def mib_by_name(memory: list[ProcessMemory], pss: bool) -> dict[str, float]:
    """MiB of PSS (or RSS) per process name, largest first: Ray runs several processes
    under one name (its workers, ``python -u`` monitors)."""
    totals: dict[str, float] = {}
    for process in memory:
        size = process.pss_bytes if pss else process.rss_bytes
        totals[process.name] = totals.get(process.name, 0.0) + size / 2**20
    return {name: round(mib, 1) for name, mib in sorted(totals.items(), key=lambda kv: -kv[1])}
