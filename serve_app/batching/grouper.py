"""Opportunistic grouping: concurrent items with the same key travel as one call.

Ray Serve's ``@serve.batch`` forms a batch first and waits for a free slot after, so
either every request pays its wait timeout (a lone client gets slower) or, with no
timeout, batches of one queue up behind the slot. Here the order is the other way
round: an item whose key has a free slot goes at once, and only while every slot of
its key is busy do items gather, to leave together as soon as one frees. A lone
request never waits; under load, groups grow with the load.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from serve_app.batching.stats import HopStats

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class GroupLimits:
    """How large a group of one key may grow, and how many of its calls run at once."""

    max_size: int
    """Most items in a group, counted by ``size_of`` (a single larger item still goes,
    alone)."""
    max_in_flight: int


@dataclass
class _Lane(Generic[T, R]):
    """The items of one key waiting for a slot, and how many of its calls run."""

    waiting: deque[tuple[T, asyncio.Future[R], float]] = field(default_factory=deque)
    """Items, their callers' futures and when they arrived."""
    running: int = 0


class Grouper(Generic[K, T, R]):
    def __init__(
        self,
        call: Callable[[K, list[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        max_size: int,
        max_in_flight: int,
        size_of: Callable[[T], int] = lambda _: 1,
        stats: HopStats | None = None,
    ) -> None:
        """``call`` runs one group: one result per item, in order; an exception in
        place of a result fails that item alone, one raised fails the whole group.

        ``max_size`` bounds a group by the sum of ``size_of`` its items (a single
        larger item still goes, alone); ``max_in_flight`` is the number of calls each key
        may have running at once."""
        if max_size < 1 or max_in_flight < 1:
            raise ValueError("max_size and max_in_flight must be at least 1")
        self._call = call
        self._max_size = max_size
        self._max_in_flight = max_in_flight
        self._size_of = size_of
        self.stats = stats if stats is not None else HopStats()
        self._lanes: dict[K, _Lane[T, R]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, item: T) -> R:
        """The result of ``item``, run in a group with whatever else of ``key`` waits."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        lane = self._lanes.setdefault(key, _Lane())
        lane.waiting.append((item, future, time.monotonic()))
        self._dispatch(key, lane)
        return await future

    def _dispatch(self, key: K, lane: _Lane[T, R]) -> None:
        while lane.waiting and lane.running < self._max_in_flight:
            group, waits = self._take(lane)
            if not group:
                continue
            lane.running += 1
            self.stats.record(len(group), sum(self._size_of(item) for item, _ in group), waits)
            task = asyncio.create_task(self._run(key, lane, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if not lane.waiting and not lane.running:
            self._lanes.pop(key, None)

    def _take(self, lane: _Lane[T, R]) -> tuple[list[tuple[T, asyncio.Future[R]]], list[float]]:
        """The next group (waiting items in arrival order, up to ``max_size``, leaving out
        those whose caller gave up) and how long each of its items waited."""
        group: list[tuple[T, asyncio.Future[R]]] = []
        waits: list[float] = []
        size = 0
        now = time.monotonic()
        while lane.waiting:
            item, future, arrived = lane.waiting[0]
            if future.done():  # cancelled while it waited
                lane.waiting.popleft()
                continue
            item_size = self._size_of(item)
            if group and size + item_size > self._max_size:
                break
            lane.waiting.popleft()
            group.append((item, future))
            waits.append(now - arrived)
            size += item_size
        return group, waits

    async def _run(
        self, key: K, lane: _Lane[T, R], group: list[tuple[T, asyncio.Future[R]]]
    ) -> None:
        try:
            results = await self._call(key, [item for item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"a group of {len(group)} got {len(results)} results")
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        except Exception as exc:  # the whole group failed: every caller hears why
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
        finally:
            lane.running -= 1
            self._dispatch(key, lane)
