"""The model registry: which model replica holds which model, and the one way to
unload a model from every replica that holds it.

Serve routes a request for a model to a replica that holds it, but cannot address
*every* replica, so model replicas keep this small deployment (one replica, no CPU)
informed and take orders from it:

* after any change to the models it holds (load, LRU eviction, unload) a model
  replica reports the whole list: a snapshot, so a lost report heals with the next;
* each model replica keeps one long poll open (:meth:`ModelRegistry.orders`). It
  returns at once when there are models for that replica to unload, else after
  ``POLL_S``, and doubles as the replica's heartbeat;
* ``/model/remove`` and ``/model/clear`` (:meth:`ModelRegistry.unload`) queue unload
  orders for every replica holding the models, wake their polls and wait until each
  has reported them gone, at most ``UNLOAD_TIMEOUT_S``; the answer lists what is
  still loaded, so a replica that did not comply shows;
* a replica silent for ``STALE_S`` (dead, scaled away) is forgotten; a registry that
  restarted answers an unknown replica's poll with ``resync`` and learns its models
  again from the report that follows.

``/model/registry`` reads the same state. ``/readiness`` turns ready once every
``PRELOAD_MODELS`` model has been loaded somewhere, and stays so when models are
later unloaded: the server can still load them on demand. A load that completes
after a removal was ordered stays loaded: removal unloads what is loaded when asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from ray import serve

from serve_app.core.engines import EngineStatus
from serve_app.registry.config import RegistryConfig
from serve_app.registry.records import ModelRecord, Orders, RegisteredModel, ReplicaRef

logger = logging.getLogger("ray.serve")

POLL_S = 10.0
STALE_S = 3 * POLL_S
UNLOAD_TIMEOUT_S = 30.0


@dataclass
class _ReplicaState:
    ref: ReplicaRef
    models: dict[str, ModelRecord] = field(default_factory=dict)
    to_unload: set[str] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_seen: float = field(default_factory=time.monotonic)


# One replica holds the state; long polls from every model replica stay open on it.
# Those polls would hold up its graceful shutdown for a whole POLL_S, and nothing is
# lost by cutting them: the model replicas poll again.
@serve.deployment(
    num_replicas=1,
    max_ongoing_requests=10_000,
    ray_actor_options={"num_cpus": 0},
    graceful_shutdown_wait_loop_s=0.1,
    graceful_shutdown_timeout_s=0.5,
    # Each replica's long poll returns every POLL_S: an access line each would keep an
    # idle server's log busy.
    logging_config={"enable_access_log": False},
)
class ModelRegistry:
    def __init__(self, config: RegistryConfig) -> None:
        self._preload = list(config.preload)
        self._preloaded: set[str] = set()
        self._replicas: dict[str, _ReplicaState] = {}
        self._changed = asyncio.Condition()

    async def report(self, replica: ReplicaRef, models: list[ModelRecord]) -> None:
        """``replica`` now holds exactly ``models``."""
        state = self._seen(replica)
        state.models = {record.model_id: record for record in models}
        state.to_unload &= state.models.keys()
        self._preloaded.update(state.models.keys() & set(self._preload))
        async with self._changed:
            self._changed.notify_all()

    async def orders(self, replica: ReplicaRef) -> Orders:
        """Long poll of a model replica: what it must unload, once there is any."""
        if replica.replica_id not in self._replicas:
            self._seen(replica)
            return Orders(resync=True)
        state = self._seen(replica)
        if not state.to_unload:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(state.wake.wait(), POLL_S)
        state.wake.clear()
        self._seen(replica)
        return Orders(unload=tuple(sorted(state.to_unload)))

    async def unload(self, model_ids: list[str] | None) -> list[RegisteredModel]:
        """Unload ``model_ids`` (every model when None) from every replica holding
        them; returns the models loaded afterwards."""
        self._forget_stale()
        holders = []
        for state in self._replicas.values():
            doomed = state.models.keys() if model_ids is None else state.models.keys() & model_ids
            if doomed:
                state.to_unload |= doomed
                state.wake.set()
                holders.append(state)
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: not any(s.to_unload for s in holders)),
                    UNLOAD_TIMEOUT_S,
                )
            except asyncio.TimeoutError:
                late = sorted(s.ref.replica_id for s in holders if s.to_unload)
                logger.warning("Replicas %s did not unload models in time", late)
        return self.models()

    def models(self) -> list[RegisteredModel]:
        """Every loaded model with the replicas holding it, by model id."""
        self._forget_stale()
        records: dict[str, ModelRecord] = {}
        holders: dict[str, list[ReplicaRef]] = {}
        engines: dict[str, list[EngineStatus | None]] = {}
        for state in self._replicas.values():
            for model_id, record in state.models.items():
                records.setdefault(model_id, record)
                holders.setdefault(model_id, []).append(state.ref)
                engines.setdefault(model_id, []).append(record.engine)
        return [
            RegisteredModel(records[m], tuple(holders[m]), tuple(engines[m]))
            for m in sorted(records)
        ]

    def missing_preloads(self) -> list[str]:
        """``PRELOAD_MODELS`` never loaded on any replica yet."""
        return [model_id for model_id in self._preload if model_id not in self._preloaded]

    def _seen(self, replica: ReplicaRef) -> _ReplicaState:
        state = self._replicas.setdefault(replica.replica_id, _ReplicaState(replica))
        state.last_seen = time.monotonic()
        return state

    def _forget_stale(self) -> None:
        cutoff = time.monotonic() - STALE_S
        for replica_id in [r for r, s in self._replicas.items() if s.last_seen < cutoff]:
            del self._replicas[replica_id]
