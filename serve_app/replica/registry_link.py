"""A model replica's side of the model registry (see ``serve_app/registry``): it
reports the models this replica holds and unloads those the registry orders."""

from __future__ import annotations

import asyncio
import logging

import ray
from ray import serve

from serve_app.registry import ModelRecord, Orders, RegistryHandle, ReplicaRef
from serve_app.replica.loaded_model import LoadedModel
from serve_app.replica.multiplexed import MultiplexedModels

logger = logging.getLogger("ray.serve")

RETRY_S = 1.0
"""Pause before polling again after the registry could not be reached."""


class RegistryLink:
    def __init__(self, registry: RegistryHandle, cache: MultiplexedModels) -> None:
        self._registry = registry
        self._cache = cache
        self._replica = ReplicaRef(
            replica_id=serve.get_replica_context().replica_id.unique_id,
            node_id=ray.get_runtime_context().get_node_id(),
        )
        self._reported: int | None = None
        """``cache.changes`` when the registry last heard from us."""
        self._guard = asyncio.Lock()

    async def sync(self) -> None:
        """Report the held models if they changed since the last report."""
        if self._reported == self._cache.changes:
            return
        async with self._guard:
            changes = self._cache.changes
            if self._reported == changes:
                return
            records = [_record(model_id, m) for model_id, m in self._cache.held().items()]
            try:
                await self._registry.report.remote(self._replica, records)
            except Exception:  # the next sync tries again; serving goes on meanwhile
                logger.warning("Could not report loaded models to the model registry")
                return
            self._reported = changes

    async def follow_orders(self) -> None:
        """For the replica's life: poll the registry and unload what it orders."""
        reachable = True
        while True:
            try:
                orders: Orders = await self._registry.orders.remote(self._replica)
            except Exception:
                if reachable:
                    logger.warning("The model registry is unreachable; polling it again")
                reachable = False
                await asyncio.sleep(RETRY_S)
                continue
            reachable = True
            if orders.resync:
                self._reported = None
            if orders.unload:
                await self._cache.unload(orders.unload)
            await self.sync()


def _record(model_id: str, model: LoadedModel) -> ModelRecord:
    spec = model.spec
    return ModelRecord(
        model_id=model_id,
        task_type=spec.task.value,
        batch_size=spec.batch_size,
        input_height=spec.input_height,
        input_width=spec.input_width,
        engine=model.engines.status(),
    )
