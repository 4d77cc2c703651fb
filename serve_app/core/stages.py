"""The seams between stages, as the preprocessing stage and the ingress see them.

Each has two implementations: a Ray handle to another deployment (the split graph) and
the stage object itself in the same process (the fused composition). The handle's side
of the model stage is here too (:class:`RemoteModelStage`), so the stages that call
the model deployment import no other stage to do it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from serve_app.core.predictions import Prediction, RequestResult
from serve_app.core.requests import ImageBatch, RequestGroup
from serve_app.core.spec import ModelSpec
from serve_app.errors import ServeAppError

if TYPE_CHECKING:
    from ray.serve.handle import DeploymentHandle


class ModelStage(Protocol):
    """The model stage: runs images of one model."""

    async def infer(
        self, model_id: str, batch: ImageBatch, api_key: str | None = None
    ) -> list[Prediction]:
        """One prediction per image of ``batch``, in order."""
        ...

    async def load(self, model_id: str, api_key: str | None = None) -> None:
        """Load ``model_id`` ahead of its first request."""
        ...

    async def spec(self, model_id: str, api_key: str | None = None) -> ModelSpec:
        """What ``model_id``'s package declares (fetched first if need be): the stage
        before the model learns it here, and never reads a package itself."""
        ...


class GroupRunner(Protocol):
    """The preprocessing stage, and everything after it, for one group of requests."""

    async def __call__(self, group: RequestGroup) -> Sequence[RequestResult | BaseException]:
        """One result per request of ``group``, in order; an exception in place of a
        result fails that request alone."""
        ...


class RemoteModelStage:
    """The model stage in other replicas: a :class:`ModelStage` over a handle to the
    model deployment. Each call goes, through Serve's model-aware routing, to a replica
    that already holds its model where one does; the replica answers a failure rather
    than raising it, and it is raised here."""

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
