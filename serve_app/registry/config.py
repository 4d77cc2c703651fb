"""What the model registry is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryConfig:
    preload: tuple[str, ...] = ()
    """Models ``/readiness`` waits for until each has been loaded somewhere."""
