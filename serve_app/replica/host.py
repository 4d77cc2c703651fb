"""The models of one replica and the batches they run, free of any deployment.

A :class:`ModelHost` holds models up to its memory budget (least recently used
evicted first: ``memory.py``), groups the images sent for each model into forward passes of at most
``batching.max_batch_size``, and runs them off the event loop. A pass that starts
while no other runs in the replica, of any model, and no other request is in flight
there, is alone, and runs on the engine's
wider layout where it has one (``LoneCapable``: all the replica's cores for a lone
request, one thread per pass under load). The model deployment
serves one over Ray handles; the fused composition calls one in process. It builds
its collaborators from its config: the package store and the weight sources behind
it, the engine store (sharing built engines through S3 where S3 is a source), and the
models' engines by the config's engine factory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from serve_app.batching import Grouper, HopStats
from serve_app.core.predictions import Prediction
from serve_app.core.requests import ImageBatch
from serve_app.core.spec import ModelSpec
from serve_app.engines.store import EngineStore
from serve_app.errors import ServeAppError
from serve_app.observability.metrics import server_metrics
from serve_app.registry import RegistryHandle
from serve_app.replica.config import ModelReplicaConfig
from serve_app.replica.loaded_model import LoadedModel
from serve_app.replica.memory import MIB, model_budget
from serve_app.replica.multiplexed import MultiplexedModels
from serve_app.replica.registry_link import RegistryLink
from serve_app.weights.s3 import S3Source
from serve_app.weights.store import package_store

logger = logging.getLogger("ray.serve")


class ModelHost:
    def __init__(
        self, config: ModelReplicaConfig, requests_in_flight: Callable[[], int] | None = None
    ) -> None:
        """``requests_in_flight``: how many requests the replica holds now, at any
        stage, where stages before this one share the replica (the fused composition);
        else the host counts its own calls."""
        weights = config.weights
        self._store = package_store(weights)
        share = S3Source(weights.s3) if weights.s3 is not None else None
        self._engine_store = EngineStore(weights.cache_dir, share)
        self._engines = config.engines
        self._max_batch_size = config.batching.max_size
        self._preload = list(config.preload)
        budget = model_budget(config.model_memory_mb, config.max_active_models)
        self.models = MultiplexedModels(self._load_model, budget, on_evicted=_count_evictions)
        self._batches: Grouper[str, ImageBatch, list[Prediction]] = Grouper(
            self._run_group,
            max_size=config.batching.max_size,
            max_in_flight=config.batching.max_in_flight,
            size_of=len,
            stats=HopStats("batch"),
        )
        self.received = HopStats("model")
        """Calls of :meth:`infer`: the hop into this host."""
        self.forward = HopStats("forward")
        """Forward passes run."""
        self.model_loads = 0
        self.pass_threads: dict[str, int] = {}
        """Forward passes by the intra-op threads they ran on (``"0"``: the runtime's
        choice, ``"?"``: an engine that does not say)."""
        self._passes_running = 0
        """Groups of forward passes running now, of every model (counted on the event
        loop, as are the calls below)."""
        self._calls = 0
        """Calls of :meth:`infer` in flight."""
        self._requests_in_flight = requests_in_flight or (lambda: self._calls)
        self._registry: RegistryLink | None = None
        self._background: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, registry: RegistryHandle) -> None:
        """Report to the model registry and follow its orders, and load
        ``PRELOAD_MODELS``, for the life of the replica (on its event loop)."""
        self._registry = RegistryLink(registry, self.models)
        loop = self._loop = asyncio.get_running_loop()
        self._background = [
            loop.create_task(self._registry.follow_orders()),
            loop.create_task(self._load_preloads()),
        ]

    async def infer(
        self, model_id: str, batch: ImageBatch, api_key: str | None = None
    ) -> list[Prediction]:
        """Predictions for each image of ``batch``, in order, by ``model_id``."""
        self.received.record(1, len(batch))
        # Fetching the model may need the request's key; the group's run loads it.
        self.models.offer_key(model_id, api_key)
        self._calls += 1
        try:
            return await self._batches.submit(model_id, batch)
        finally:
            self._calls -= 1

    async def load(self, model_id: str, api_key: str | None = None) -> None:
        self.models.offer_key(model_id, api_key)
        await self._model(model_id)

    async def spec(self, model_id: str, api_key: str | None = None) -> ModelSpec:
        """What the model's package declares: from the model where this replica holds
        it, else from its package (fetched into the node's cache if need be), without
        loading it here. The request's images come next, and Serve may route them to
        another replica before it learns that this one holds the model: a load here
        would then be a second one."""
        held = self.models.held().get(model_id)
        if held is not None:
            return held.spec
        package = await asyncio.to_thread(self._store.package, model_id, api_key)
        return package.spec

    def stats(self) -> dict[str, object]:
        return {
            "received": self.received.snapshot(),
            "forward": self.forward.snapshot(),
            "model_loads": self.model_loads,
            "model_evictions": self.models.evictions,
            "model_memory_mb": round(self.models.held_bytes() / MIB, 1),
            "model_budget_mb": round(self.models.budget.memory_bytes / MIB, 1),
            "pass_threads": dict(self.pass_threads),
            "loaded_models": list(self.models.held()),
            "loading_models": self.models.loading(),
        }

    async def _run_group(self, model_id: str, batches: list[ImageBatch]) -> list[list[Prediction]]:
        model = await self._model(model_id)
        chunks = list(ImageBatch.concat(batches).chunks(self._max_batch_size))
        # Alone: no other pass runs, and no other request waits anywhere in the replica
        # (under load a wide pass would only take the cores the next images need).
        alone = self._passes_running == 0 and self._requests_in_flight() <= 1
        threads = model.pass_threads(alone)
        key = "?" if threads is None else str(threads)
        for chunk in chunks:
            self.forward.record(1, len(chunk))
            self.pass_threads[key] = self.pass_threads.get(key, 0) + 1
        self._passes_running += 1
        try:
            # Off the event loop, so new images gather into the next group meanwhile.
            predictions = await asyncio.to_thread(_run_chunks, model, chunks, alone)
        finally:
            self._passes_running -= 1
        results, start = [], 0
        for batch in batches:
            results.append(predictions[start : start + len(batch)])
            start += len(batch)
        return results

    async def _load_model(self, model_id: str, api_key: str | None) -> LoadedModel:
        metrics, start = server_metrics(), time.perf_counter()
        try:
            package = await asyncio.to_thread(self._store.package, model_id, api_key)
            model = await asyncio.to_thread(
                LoadedModel.load, package, self._engines, self._engine_store
            )
        except Exception:
            metrics.model_loads.inc(tags={"model": "", "result": "failed"})
            raise
        elapsed = time.perf_counter() - start
        metrics.model_loads.inc(tags={"model": model_id, "result": "loaded"})
        metrics.model_load_seconds.observe(elapsed, tags={"model": model_id})
        status = model.engines.status()
        logger.info(
            "Model %s loaded from %s in %.2f s (%s on %s)",
            model_id,
            self._store.origin(model_id),
            elapsed,
            status.live,
            status.device,
        )
        self.model_loads += 1
        # The optimised engine builds behind the one that serves now.
        model.engines.start(self._engine_changed)
        return model

    def _engine_changed(self) -> None:
        """From a build's thread: tell the model registry what serves the model now."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._report_engines)

    def _report_engines(self) -> None:
        self.models.changes += 1
        if self._registry is not None:
            task = asyncio.get_running_loop().create_task(self._registry.sync())
            self._background.append(task)
            task.add_done_callback(self._background.remove)

    async def _model(self, model_id: str) -> LoadedModel:
        try:
            return await self.models.get(model_id)
        finally:  # a failed load may still have evicted a model
            if self._registry is not None:
                await self._registry.sync()

    async def _load_preloads(self) -> None:
        for model_id in self._preload:
            try:
                await self._model(model_id)
            # /readiness keeps answering 503 while a preload is missing.
            except ServeAppError as exc:
                logger.error("Could not preload model %s: %s", model_id, exc.message)
            except Exception:
                logger.exception("Could not preload model %s", model_id)


def _count_evictions(count: int) -> None:
    server_metrics().model_evictions.inc(count)


def _run_chunks(model: LoadedModel, chunks: list[ImageBatch], alone: bool) -> list[Prediction]:
    return [prediction for chunk in chunks for prediction in model.run_batch(chunk, alone)]
