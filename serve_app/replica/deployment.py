"""The model deployment: replicas hold several models and batch requests per model.

Ray Serve's multiplexing routes a request to a replica that already holds its model
and evicts the least recently used beyond ``MAX_ACTIVE_MODELS``; ``@serve.batch``
splits batches by multiplexed model id, so images of different models never share
a forward pass.
"""

from __future__ import annotations

import asyncio

from ray import serve

from serve_app.config import BatchingConfig, EngineConfig, ServerSettings
from serve_app.messages import Prediction, PreprocessedImage, TaskParams
from serve_app.replica.loaded_model import LoadedModel
from serve_app.replica.stats import BatchStats
from serve_app.weights import ModelStore


@serve.deployment
class ModelReplica:
    def __init__(
        self, settings: ServerSettings, engine: EngineConfig, batching: BatchingConfig
    ) -> None:
        self._store = ModelStore.from_settings(settings)
        self._engine_config = engine
        self._stats = BatchStats()

        # Limits come from config, so the decorators are applied per instance. Serve
        # keeps its model cache on the decorated callable: it must be a plain function.
        async def load(model_id: str) -> LoadedModel:
            return await self._load_model(model_id)

        self._get_model = serve.multiplexed(max_num_models_per_replica=settings.max_active_models)(
            load
        )
        self._infer_batch.set_max_batch_size(batching.max_batch_size)
        self._infer_batch.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)

    async def _load_model(self, model_id: str) -> LoadedModel:
        package = await asyncio.to_thread(self._store.package, model_id)
        model = await asyncio.to_thread(LoadedModel.load, package, self._engine_config)
        self._stats.model_loads += 1
        return model

    async def infer(self, image: PreprocessedImage, params: TaskParams) -> Prediction:
        return await self._infer_batch(image, params)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def _infer_batch(
        self, images: list[PreprocessedImage], params: list[TaskParams]
    ) -> list[Prediction]:
        model = await self._get_model(serve.get_multiplexed_model_id())
        self._stats.record_batch(len(images))
        # Off the event loop, so new requests queue into the next batch meanwhile.
        return await asyncio.to_thread(model.run_batch, images, params)

    def stats(self) -> dict[str, object]:
        return self._stats.snapshot()
