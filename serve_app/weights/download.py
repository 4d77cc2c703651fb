"""Writing downloads so that only a complete, verified copy ever has its name: each
file is written whole, and checked, before it is renamed (folders: ``core/folders.py``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from serve_app.errors import IncompleteDownloadError


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
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
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
