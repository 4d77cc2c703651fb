"""The processes of a server started from this process, their memory and CPU time,
from /proc (every server process is a descendant of the start command:
:mod:`serve_app.launch.process_tree`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from serve_app.launch.process_tree import descendants

PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds ``pid`` has used (its threads' included, its
    children's not); None for a process that has gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command: state is field 3 of stat(5); utime and stime are 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def role_of(pid: int) -> str:
    """What a server process does, from its command line: a Serve replica by its
    deployment (``ray::ServeReplica:app:Ingress`` → ``replica Ingress``), a Ray actor
    or daemon by its name, anything else by its program."""
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
    except OSError:
        return "gone"
    if not words:
        return f"pid {pid}"
    first = words[0]
    if first.startswith("ray::ServeReplica:"):
        return "replica " + first.split(":")[-1].split(".")[0]
    if first.startswith("ray::"):
        return "ray " + first[5:].split(".")[0]
    program = Path(first).name
    if program.startswith("python") and len(words) > 1:
        script = words[2] if words[1] in ("-u", "-m") and len(words) > 2 else words[1]
        return "python " + Path(script).name.removesuffix(".py")
    return program


@dataclass
class TreeCpu:
    """CPU seconds of a process tree between :meth:`start` and :meth:`stop`, by role.

    The tree is read again at :meth:`stop`, so processes started meanwhile (a replica
    restarted, HAProxy's reload) count from zero; one that ended meanwhile loses what it
    used since :meth:`start`.
    """

    root: int
    by_role: dict[str, float] = field(default_factory=dict)
    """Seconds per :func:`role_of`, most first, once stopped."""
    _start: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        by_role: dict[str, float] = {}
        for pid, seconds in self._read().items():
            role = role_of(pid)
            by_role[role] = by_role.get(role, 0.0) + seconds - self._start.get(pid, 0.0)
        self.by_role = dict(sorted(by_role.items(), key=lambda kv: -kv[1]))
        return self.by_role

    def _read(self) -> dict[int, float]:
        seconds = {pid: cpu_seconds(pid) for pid in [self.root, *descendants(self.root)]}
        return {pid: s for pid, s in seconds.items() if s is not None}


def listening_pids(port: int) -> list[int]:
    """The processes with a TCP socket listening on ``port`` (IPv4 or IPv6), from
    /proc: the server a URL names, whoever started it. Several where they share the
    port (HAProxy binds with SO_REUSEPORT)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "ADDR:PORT" in hex; state 0A is LISTEN.
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)
