"""The model deployment: replicas hold several models and batch their images.

Ray Serve's multiplexing routes a call to a replica that already holds its model
(callers set ``multiplexed_model_id``), and the replica's :class:`ModelHost` evicts the
least recently used beyond its memory budget. Each replica reports the models it
holds to the model registry and unloads those it is told to (``serve_app/registry``),
and loads ``PRELOAD_MODELS`` when it starts.
"""

from __future__ import annotations

from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.core.predictions import Prediction
from serve_app.core.requests import ImageBatch
from serve_app.core.spec import ModelSpec
from serve_app.errors import ServeAppError
from serve_app.replica.config import ModelReplicaConfig
from serve_app.replica.host import ModelHost


@serve.deployment
class ModelReplica:
    def __init__(self, config: ModelReplicaConfig, *, registry: DeploymentHandle) -> None:
        self._host = ModelHost(config)
        # Serve runs __init__ on the replica's event loop.
        self._host.start(registry)

    # Each answers a ServeAppError rather than raise it: Serve logs what a replica raises
    # with a traceback, and a missing or broken model is the client's to hear about.
    async def infer(
        self, model_id: str, batch: ImageBatch, api_key: str | None = None
    ) -> list[Prediction] | ServeAppError:
        try:
            return await self._host.infer(model_id, batch, api_key)
        except ServeAppError as exc:
            return exc

    async def load(self, model_id: str, api_key: str | None = None) -> ServeAppError | None:
        """Load ``model_id`` (``/model/add``)."""
        try:
            await self._host.load(model_id, api_key)
        except ServeAppError as exc:
            return exc
        return None

    async def spec(self, model_id: str, api_key: str | None = None) -> ModelSpec | ServeAppError:
        """What ``model_id``'s package declares: how the preprocessing stage learns a
        model without reading its package."""
        try:
            return await self._host.spec(model_id, api_key)
        except ServeAppError as exc:
            return exc

    def stats(self) -> dict[str, object]:
        return self._host.stats()
