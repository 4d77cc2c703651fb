"""The processes below a process, read from ``/proc`` (Linux).

Ray started in-process makes every server process a descendant of the start command
(its daemons, every replica, HAProxy), whatever Ray names them, and whatever process
group or session each puts itself in: walking the tree finds them all.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def has_proc() -> bool:
    """Whether this system lists processes under ``/proc`` (Linux); elsewhere the
    functions below find nothing."""
    return (PROC / "self" / "stat").exists()


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name (which may hold spaces and parentheses):
    state, ppid, pgrp, session, ..."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(root: int | None = None) -> list[int]:
    """Every process below ``root`` (default: this one), zombies included."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir() if has_proc() else ():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return sorted(found)


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and has not exited (a zombie has exited: it only waits
    for its parent to read its status)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def executable_name(pid: int) -> str:
    """The name the kernel keeps for ``pid`` (its executable's, up to 15 characters);
    empty once it has gone."""
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""
