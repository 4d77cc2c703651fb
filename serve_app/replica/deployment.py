"""The model deployment: replicas hold several models and batch requests per model.

Ray Serve's multiplexing routes a request to a replica that already holds its model
and evicts the least recently used beyond ``MAX_ACTIVE_MODELS``; ``@serve.batch``
splits batches by multiplexed model id, so images of different models never share
a forward pass. Each replica reports the models it holds to the model registry and
unloads those it is told to (``serve_app/registry``), and loads ``PRELOAD_MODELS``
when it starts.
"""

from __future__ import annotations

import asyncio
import logging

from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.config import BatchingConfig, EngineConfig, ServerSettings
from serve_app.errors import ServeAppError
from serve_app.messages import Prediction, PreprocessedImage, TaskParams
from serve_app.replica.loaded_model import LoadedModel
from serve_app.replica.model_cache import ModelCache
from serve_app.replica.registry_link import RegistryLink
from serve_app.replica.stats import BatchStats
from serve_app.weights import ModelStore

logger = logging.getLogger("ray.serve")


@serve.deployment
class ModelReplica:
    def __init__(
        self,
        settings: ServerSettings,
        engine: EngineConfig,
        batching: BatchingConfig,
        registry: DeploymentHandle,
    ) -> None:
        self._store = ModelStore.from_settings(settings)
        self._engine_config = engine
        self._stats = BatchStats()
        # The model limit comes from config, so the cache is built per instance.
        self._models = ModelCache(self._load_model, settings.max_active_models)
        self._registry = RegistryLink(registry, self._models)
        self._infer_batch.set_max_batch_size(batching.max_batch_size)
        self._infer_batch.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)
        # Serve runs __init__ on the replica's event loop; these run for its life.
        loop = asyncio.get_running_loop()
        self._background = (
            loop.create_task(self._registry.follow_orders()),
            loop.create_task(self._preload(settings.preload_models)),
        )

    async def _load_model(self, model_id: str, api_key: str | None) -> LoadedModel:
        package = await asyncio.to_thread(self._store.package, model_id, api_key)
        model = await asyncio.to_thread(LoadedModel.load, package, self._engine_config)
        self._stats.model_loads += 1
        return model

    async def _model(self, model_id: str) -> LoadedModel:
        try:
            return await self._models.get(model_id)
        finally:  # a failed load may still have evicted a model
            await self._registry.sync()

    async def _preload(self, model_ids: list[str]) -> None:
        for model_id in model_ids:
            try:
                await self._model(model_id)
            # /readiness keeps answering 503 while a preload is missing.
            except ServeAppError as exc:
                logger.error("Could not preload model %s: %s", model_id, exc.message)
            except Exception:
                logger.exception("Could not preload model %s", model_id)

    async def load(self, api_key: str | None = None) -> None:
        """Load the request's multiplexed model (``/model/add``)."""
        model_id = serve.get_multiplexed_model_id()
        self._models.offer_key(model_id, api_key)
        await self._model(model_id)

    async def infer(
        self, image: PreprocessedImage, params: TaskParams, api_key: str | None = None
    ) -> Prediction:
        # Fetching the model may need the request's key; the batch loads it.
        self._models.offer_key(serve.get_multiplexed_model_id(), api_key)
        return await self._infer_batch(image, params)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def _infer_batch(
        self, images: list[PreprocessedImage], params: list[TaskParams]
    ) -> list[Prediction]:
        model = await self._model(serve.get_multiplexed_model_id())
        self._stats.record_batch(len(images))
        # Off the event loop, so new requests queue into the next batch meanwhile.
        return await asyncio.to_thread(model.run_batch, images, params)

    def stats(self) -> dict[str, object]:
        return {
            **self._stats.snapshot(),
            "model_evictions": self._models.evictions,
            "loaded_models": list(self._models.held()),
        }
