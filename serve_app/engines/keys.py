"""Cache keys of built engines: everything that makes one build differ from another.

A built engine is valid only for the exact network, backend version, kind of device
and build options it came from; the key names each of them, so a replica on the same
kind of device loads what another built, and anything else builds anew.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class DeviceIdentity:
    name: str
    """``"NVIDIA H200"``, or ``"cpu-x86_64"``."""
    compute_capability: str | None
    """``"9.0"``; None on CPUs."""


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    backend: str
    """The built form: ``"tensorrt"``, ``"torch-trace"``."""
    backend_version: str
    device: DeviceIdentity
    precision: str
    batch_profile: tuple[int, ...]
    """Batch sizes built for: TensorRT's (min, opt, max), or the traced buckets."""
    variant: str = ""
    """Any further option that changes the build (memory layout, ...)."""

    @property
    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    @property
    def name(self) -> str:
        """A folder name unique to the key, readable at a glance."""
        return f"{self.backend}-{self.precision}-{self.digest}"

    def describe(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key: a replaced file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
