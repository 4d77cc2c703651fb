"""What a model replica is given: where packages come from, how engines are made, and
how many models it holds and batches it runs. The engine factory is a picklable value
(``OnnxEngineFactory`` in service), so the real Serve graph also runs on a fake one."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.batching import GroupLimits
from serve_app.engines.factory import EngineFactory
from serve_app.weights.config import WeightSources


@dataclass(frozen=True)
class ModelReplicaConfig:
    weights: WeightSources
    engines: EngineFactory
    batching: GroupLimits
    """Images per forward pass (``max_size``) and passes per model in flight."""
    model_memory_mb: int | None
    """Memory the models held may take before the least recently used is unloaded;
    None: a share of the replica's node (``memory.py``)."""
    max_active_models: int | None = None
    """And, where set, how many models may be held."""
    preload: tuple[str, ...] = ()
    """Models loaded when the replica starts."""
