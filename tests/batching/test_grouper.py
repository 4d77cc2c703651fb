"""The grouper on its own: who waits, who travels together, and who hears which error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from serve_app.batching import Grouper


class Recorder:
    """A group call that records each group and holds it until released."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, list[int]]] = []
        self.release = asyncio.Event()

    async def __call__(self, key: str, items: list[int]) -> Sequence[int | BaseException]:
        self.groups.append((key, list(items)))
        await self.release.wait()
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


def run(coroutine):  # noqa: ANN001, ANN201 - a test helper
    return asyncio.run(coroutine)


def test_a_lone_item_goes_at_once() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        grouper = Grouper(recorder, max_size=8, max_in_flight=1)
        task = asyncio.create_task(grouper.submit("m", 1))
        await asyncio.sleep(0)  # one turn of the loop: no timer, no wait for company
        await asyncio.sleep(0)
        assert recorder.groups == [("m", [1])]
        recorder.release.set()
        assert await task == 10

    run(scenario())


def test_items_gather_while_the_slots_are_busy_and_leave_together() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        grouper = Grouper(recorder, max_size=8, max_in_flight=1)
        first = asyncio.create_task(grouper.submit("m", 1))
        await asyncio.sleep(0)
        rest = [asyncio.create_task(grouper.submit("m", i)) for i in (2, 3, 4)]
        await asyncio.sleep(0)
        assert recorder.groups == [("m", [1])]  # the others wait for the slot
        recorder.release.set()
        assert await first == 10
        assert [await t for t in rest] == [20, 30, 40]
        assert recorder.groups == [("m", [1]), ("m", [2, 3, 4])]
        assert grouper.stats.snapshot()["calls"] == 2

    run(scenario())


def test_groups_respect_max_size_and_a_larger_item_goes_alone() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        grouper = Grouper(recorder, max_size=4, max_in_flight=1, size_of=lambda i: i)
        tasks = [asyncio.create_task(grouper.submit("m", i)) for i in (1, 2, 2, 6, 1)]
        await asyncio.sleep(0)
        recorder.release.set()
        await asyncio.gather(*tasks)
        # 1 left alone at once; then 2+2 (a third would pass 4); then 6 alone; then 1.
        assert [items for _, items in recorder.groups] == [[1], [2, 2], [6], [1]]
        assert grouper.stats.snapshot()["images"] == 12

    run(scenario())


def test_each_key_has_its_own_slots() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        grouper = Grouper(recorder, max_size=8, max_in_flight=1)
        a = asyncio.create_task(grouper.submit("a", 1))
        b = asyncio.create_task(grouper.submit("b", 2))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert sorted(recorder.groups) == [("a", [1]), ("b", [2])]
        recorder.release.set()
        assert (await a, await b) == (10, 20)

    run(scenario())


def test_an_item_error_fails_that_item_alone() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.release.set()
        grouper = Grouper(recorder, max_size=8, max_in_flight=1)
        blocker = asyncio.create_task(grouper.submit("m", 0))
        good = asyncio.create_task(grouper.submit("m", 5))
        bad = asyncio.create_task(grouper.submit("m", -1))
        assert await blocker == 0
        assert await good == 50
        with pytest.raises(ValueError, match="bad -1"):
            await bad

    run(scenario())


def test_a_failed_call_fails_its_whole_group_and_the_next_group_still_runs() -> None:
    calls: list[list[int]] = []

    async def flaky(key: str, items: list[int]) -> Sequence[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("replica died")
        return items

    async def scenario() -> None:
        grouper = Grouper(flaky, max_size=8, max_in_flight=1)
        first = asyncio.create_task(grouper.submit("m", 1))
        with pytest.raises(RuntimeError, match="replica died"):
            await first
        assert await grouper.submit("m", 2) == 2

    run(scenario())


def test_a_caller_that_gave_up_is_left_out_of_the_next_group() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        grouper = Grouper(recorder, max_size=8, max_in_flight=1)
        first = asyncio.create_task(grouper.submit("m", 1))
        await asyncio.sleep(0)
        gone = asyncio.create_task(grouper.submit("m", 2))
        kept = asyncio.create_task(grouper.submit("m", 3))
        await asyncio.sleep(0)
        gone.cancel()
        recorder.release.set()
        await first
        assert await kept == 30
        assert recorder.groups == [("m", [1]), ("m", [3])]

    run(scenario())
