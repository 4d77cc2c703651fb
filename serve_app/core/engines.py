"""What engines are asked for, what identifies a built one, and what a model replica
reports of the engine serving each model: small, picklable values.

The typed application config validates :class:`EngineOptions` itself (its ``engine``
section), so the option fields are written once; engines never import pydantic, and
the model replica's path also runs where only torch is installed
(``bench/gpu_check.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Literal, get_args

Backend = Literal["auto", "tensorrt", "torch", "onnxruntime"]
DeviceKind = Literal["auto", "cpu", "cuda"]
Precision = Literal["fp32", "fp16"]

MIN_WORKSPACE_MB = 64


@dataclass(frozen=True)
class EngineOptions:
    """How model replicas run networks (``serve_app/engines``): the config's ``engine``."""

    # Validated by pydantic as part of the application config: no unknown keys. (A class
    # attribute, not a field: it has no annotation.)
    __pydantic_config__ = {"extra": "forbid"}  # noqa: RUF012 - read by pydantic only

    backend: Backend = "auto"
    """``auto``: TensorRT, else torch, on a CUDA device; ONNX Runtime on CPU."""
    device: DeviceKind = "auto"
    precision: Precision = "fp16"
    """FP16 where the device runs it fast (CUDA); CPUs always run FP32."""
    num_threads: int = 0
    """Intra-op threads per model; 0 lets the runtime choose (one per core)."""
    lone_threads: int | Literal["all"] | None = None
    """ONNX Runtime on CPU: intra-op threads of a forward pass that runs alone in its
    replica (no other pass in flight there), on a second session of the model; passes
    beside others keep ``num_threads``. ``"all"``: every core of the replica's node;
    0 (or no more than ``num_threads``): no lone layout; None: the application builder
    chooses from the replica's layout (``app.py``)."""
    cuda_graphs: bool = True
    channels_last: bool = True
    workspace_mb: int = 4096
    """TensorRT builder workspace limit, MiB."""
    timing_cache: bool = True
    """Keep TensorRT's timing cache beside the engine cache, for later builds."""

    def __post_init__(self) -> None:
        for name, kind in (("backend", Backend), ("device", DeviceKind), ("precision", Precision)):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"{name} must be one of {', '.join(get_args(kind))}")
        if self.num_threads < 0:
            raise ValueError("num_threads must be at least 0")
        lone = self.lone_threads
        if not (lone is None or lone == "all" or (isinstance(lone, int) and lone >= 0)):
            raise ValueError('lone_threads must be at least 0, "all" or null')
        if self.workspace_mb < MIN_WORKSPACE_MB:
            raise ValueError(f"workspace_mb must be at least {MIN_WORKSPACE_MB}")


@dataclass(frozen=True)
class DeviceIdentity:
    name: str
    """``"NVIDIA H200"``, or ``"cpu-x86_64"``."""
    compute_capability: str | None
    """``"9.0"``; None on CPUs."""


@dataclass(frozen=True)
class EngineKey:
    """Everything that makes one built engine differ from another.

    A built engine is valid only for the exact network, backend version, kind of
    device and build options it came from; the key names each of them, so a replica
    on the same kind of device loads what another built, and anything else builds anew.
    """

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


class EngineOrigin(str, Enum):
    """Where a ready optimised engine came from."""

    CACHE = "cache"
    """Found on this node's disk."""
    S3 = "s3"
    """Fetched from another node's upload."""
    BUILT = "built"


class BuildState(str, Enum):
    """Where the background build of a model's optimised engine stands; the values are
    what ``/model/registry`` says."""

    QUEUED = "queued"
    WAITING = "waiting"
    """For another replica's build of the same engine."""
    FETCHING = "fetching"
    """From S3, where another node uploaded it."""
    BUILDING = "building"
    LOADING = "loading"
    READY = "ready"
    """It serves now."""
    FAILED = "failed"


@dataclass(frozen=True)
class BuildStatus:
    """The optimised engine a model replica builds (or fetches) in the background."""

    backend: str
    """What is built: ``"tensorrt"``, ``"torch-trace"``."""
    state: BuildState
    progress: float
    """Share of the build done, 0..1."""
    elapsed_s: float
    """Since the build started; its whole duration once ready or failed."""
    origin: EngineOrigin | None = None
    """Where the ready engine came from."""
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
