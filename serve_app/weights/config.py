"""What the weight sources and the package cache are given: plain, picklable values
the application builder makes from the settings (``serve_app/app.py``).

Secrets are plain strings kept out of every ``repr``; nothing here imports a source's
client library, so a config can be built and pickled where boto3 is not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from serve_app.weights.retry import RetryPolicy

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
"""The models that ship with the server, read in place by the ``local`` source."""


@dataclass(frozen=True)
class S3Config:
    """The ``s3`` source: model ``d/v`` is the folder ``s3://{bucket}/{prefix}/d/v/``."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    """An S3-compatible store's endpoint; None is AWS."""
    region: str | None
    access_key_id: str | None
    """With the secret, overrides boto3's standard credential chain."""
    secret_access_key: str | None = field(repr=False)
    timeout_s: float
    """Connect and read timeout of each call."""
    retry: RetryPolicy


@dataclass(frozen=True)
class RoboflowConfig:
    """The ``roboflow`` source: the Roboflow API, asked as Roboflow's server asks it."""

    api_base_url: str
    device_id: str
    """Sent with every weights request, as Roboflow's server does."""
    api_key: str | None = field(repr=False)
    """The server's own key, for requests that bring none."""
    timeout_s: float
    retry: RetryPolicy


RemoteSource = S3Config | RoboflowConfig


@dataclass(frozen=True)
class WeightSources:
    """Where model packages come from, and the cache in front of them."""

    cache_dir: Path
    """``MODEL_CACHE_DIR``: fetched packages, ``{dir}/{dataset}/{version}/``."""
    local_dirs: tuple[Path, ...]
    """Folders read in place, never copied, searched first, in order."""
    remote: tuple[RemoteSource, ...]
    """Sources asked, in order, for a model neither local nor cached."""

    @property
    def s3(self) -> S3Config | None:
        """The S3 source, which also shares built engines between nodes."""
        return next((s for s in self.remote if isinstance(s, S3Config)), None)
