"""What a model replica reports of the engine serving each model: small, picklable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildStatus:
    """The optimised engine a model replica builds (or fetches) in the background."""

    backend: str
    """What is built: ``"tensorrt"``, ``"torch-trace"``."""
    state: str
    """``queued``, ``waiting`` (for another replica's build), ``fetching`` (from S3),
    ``building``, ``loading``, ``ready`` (it serves now) or ``failed``."""
    progress: float
    """Share of the build done, 0..1."""
    elapsed_s: float
    """Since the build started; its whole duration once ready or failed."""
    origin: str | None = None
    """Where the ready engine came from: ``cache``, ``s3`` or ``built``."""
    error: str | None = None


@dataclass(frozen=True)
class EngineStatus:
    """Which engine serves a model on a replica."""

    live: str
    """``"onnxruntime"``, ``"torch"`` (converted, not yet optimised), ``"torch-trace"``,
    ``"tensorrt"``."""
    device: str
    build: BuildStatus | None = None
    """None where the backend has nothing to build."""
    fallback: str | None = None
    """Why the configured backend or device is not the one used."""
