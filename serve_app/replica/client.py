"""How other deployments call the model deployment: through Serve's model-aware routing."""

from __future__ import annotations

from ray.serve.handle import DeploymentHandle

from serve_app.core.predictions import Prediction
from serve_app.core.requests import ImageBatch
from serve_app.core.spec import ModelSpec
from serve_app.errors import ServeAppError


class ModelReplicaClient:
    """A :class:`~serve_app.core.stages.ModelClient` over a handle to ``ModelReplica``;
    each call goes to a replica that already holds its model where one does."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle
        self._by_model: dict[str, DeploymentHandle] = {}

    def _for(self, model_id: str) -> DeploymentHandle:
        handle = self._by_model.get(model_id)
        if handle is None:
            handle = self._by_model[model_id] = self._handle.options(multiplexed_model_id=model_id)
        return handle

    async def infer(
        self, model_id: str, batch: ImageBatch, api_key: str | None = None
    ) -> list[Prediction]:
        answer: list[Prediction] | ServeAppError = await self._for(model_id).infer.remote(
            model_id, batch, api_key
        )
        if isinstance(answer, ServeAppError):  # the replica answers errors, it does not raise
            raise answer
        return answer

    async def load(self, model_id: str, api_key: str | None = None) -> None:
        error: ServeAppError | None = await self._for(model_id).load.remote(model_id, api_key)
        if error is not None:
            raise error

    async def spec(self, model_id: str, api_key: str | None = None) -> ModelSpec:
        answer: ModelSpec | ServeAppError = await self._for(model_id).spec.remote(model_id, api_key)
        if isinstance(answer, ServeAppError):
            raise answer
        return answer
