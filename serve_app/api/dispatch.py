"""The ingress's way to the stages behind it: concurrent requests for one model are
grouped (see :mod:`serve_app.batching.grouper`) and each group travels as one call."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from serve_app.batching import Grouper, GroupLimits, HopStats
from serve_app.core.ids import Task
from serve_app.core.predictions import RequestResult
from serve_app.core.requests import InferenceRequest, RequestGroup
from serve_app.core.stages import GroupRunner


@dataclass(frozen=True)
class _GroupKey:
    """Requests share a group only when all of this is the same."""

    model_id: str
    task: Task | None
    api_key: str | None = field(repr=False)


class RequestDispatcher:
    def __init__(self, run_group: GroupRunner, grouping: GroupLimits) -> None:
        self._run_group = run_group
        self._grouper: Grouper[_GroupKey, InferenceRequest, RequestResult] = Grouper(
            self._call,
            max_size=grouping.max_size,
            max_in_flight=grouping.max_in_flight,
            size_of=lambda request: len(request.images),
            stats=HopStats("preprocessing"),
        )
        self.in_flight = 0
        """Requests taken and not yet answered."""

    async def infer(
        self, model_id: str, task: Task | None, request: InferenceRequest, api_key: str | None
    ) -> RequestResult:
        """The result of ``request`` by ``model_id`` (normalised, as the caller's
        admission gives it), whose task must be ``task`` (any task when None)."""
        key = _GroupKey(model_id, task, api_key)
        self.in_flight += 1
        try:
            return await self._grouper.submit(key, request)
        finally:
            self.in_flight -= 1

    def stats(self) -> dict[str, object]:
        """Groups sent to the next stage: the hop into preprocessing."""
        return self._grouper.stats.snapshot()

    async def _call(
        self, key: _GroupKey, requests: list[InferenceRequest]
    ) -> list[RequestResult | BaseException]:
        group = RequestGroup(key.model_id, key.task, tuple(requests), key.api_key)
        return list(await self._run_group(group))


async def get_dispatcher(request: Request) -> RequestDispatcher:
    """FastAPI dependency: the dispatcher of the ingress replica serving this request
    (a coroutine: FastAPI would run a plain function on a worker thread)."""
    dispatcher: RequestDispatcher = request.app.state.dispatcher
    return dispatcher
