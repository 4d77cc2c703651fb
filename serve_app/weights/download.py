"""Writing downloads so that only a complete, verified copy ever has its name: each
file is written whole, and checked, before it is renamed (folders: ``core/folders.py``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from serve_app.errors import IncompleteDownloadError

ProgressReport = Callable[[str, int, "int | None"], None]
"""Told ``(file name, bytes written so far, bytes announced or None)`` as a download
starts (0 bytes) and after each chunk; a retried download starts again from 0."""

# A context variable rather than a parameter: the weight sources' protocol stays as
# the server uses it, and only a caller that wants progress (``rfserve models pull``)
# sets one around its fetch, for its own thread.
_progress: ContextVar[ProgressReport | None] = ContextVar("download_progress", default=None)


@contextmanager
def reporting_progress(report: ProgressReport) -> Iterator[None]:
    """Every :func:`write_verified` of this thread inside the block tells ``report``."""
    token = _progress.set(report)
    try:
        yield
    finally:
        _progress.reset(token)


def write_verified(
    dest: Path,
    chunks: Iterable[bytes],
    *,
    expected_size: int | None = None,
    expected_md5: str | None = None,
) -> int:
    """Stream ``chunks`` into ``dest`` through a temporary file beside it.

    The file is renamed to ``dest`` only when its size and MD5 (hex) match what the
    source announced; either check is skipped when the source announced nothing.
    Returns the number of bytes written. Raises :class:`IncompleteDownloadError`
    otherwise, leaving nothing behind.
    """
    partial = dest.with_name(f".{dest.name}.part")
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    report = _progress.get()
    try:
        with partial.open("wb") as out:
            if report is not None:
                report(dest.name, 0, expected_size)
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if report is not None:
                    report(dest.name, size, expected_size)
            out.flush()
            os.fsync(out.fileno())  # complete on disk before the rename makes it visible
        if expected_size is not None and size != expected_size:
            raise IncompleteDownloadError(
                f"{dest.name}: received {size} of {expected_size} announced bytes"
            )
        if expected_md5 is not None and digest.hexdigest() != expected_md5.lower():
            raise IncompleteDownloadError(f"{dest.name}: checksum differs from the source's")
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return size
