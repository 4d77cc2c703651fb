"""The seams between stages, as the preprocessing stage and the ingress see them.

Each has two implementations: a Ray handle to another deployment (the split graph) and
the stage object itself in the same process (the fused composition).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from serve_app.core.predictions import Prediction, RequestResult
from serve_app.core.requests import ImageBatch, RequestGroup
from serve_app.core.spec import ModelSpec


class ModelClient(Protocol):
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
