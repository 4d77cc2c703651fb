"""What replicas tell the model registry, and what it answers: small, picklable."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.core.engines import EngineStatus


@dataclass(frozen=True)
class ReplicaRef:
    replica_id: str
    """Serve's id of the model replica, unique within its deployment."""
    node_id: str
    """Ray node the replica runs on."""


@dataclass(frozen=True)
class ModelRecord:
    """A model loaded on a replica, as ``/model/registry`` describes it."""

    model_id: str
    task_type: str
    batch_size: int | None
    """Fixed batch dimension of the network; None where it is dynamic."""
    input_height: int
    input_width: int
    engine: EngineStatus | None = None
    """None from replicas that do not report it."""


@dataclass(frozen=True)
class Orders:
    """The registry's answer to a replica's poll."""

    unload: tuple[str, ...] = ()
    """Models to unload now."""
    resync: bool = False
    """The registry does not know the replica (it restarted): report everything."""


@dataclass(frozen=True)
class RegisteredModel:
    record: ModelRecord
    replicas: tuple[ReplicaRef, ...]
    """Every replica that holds the model."""
    engines: tuple[EngineStatus | None, ...] = ()
    """What serves the model on each of ``replicas``, in their order."""
