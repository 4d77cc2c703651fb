"""Forward passes in flight in this process, and the engines that run a lone one wider.

On CPU a forward pass with one intra-op thread per core, side by side, gives the most
images per second under load, while a request that finds the replica idle is
answered sooner by one pass with all the replica's cores. Engines that can do both
offer :meth:`LoneCapable.infer_alone`; whoever runs passes asks
:class:`ForwardPasses` whether a pass is alone (a replica is one process, so the
process's count is the replica's).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import numpy as np

from serve_app.engines.base import Engine


@runtime_checkable
class LoneCapable(Protocol):
    def infer_alone(self, images: np.ndarray) -> list[np.ndarray]:
        """:meth:`Engine.infer` for a pass that runs alone: with more threads."""
        ...


class ForwardPasses:
    """A count of the passes running now, from any thread."""

    def __init__(self) -> None:
        self._running = 0
        self._guard = threading.Lock()

    @contextmanager
    def running(self) -> Iterator[bool]:
        """Count one pass while the block runs; yields whether it started alone."""
        with self._guard:
            self._running += 1
            alone = self._running == 1
        try:
            yield alone
        finally:
            with self._guard:
                self._running -= 1


FORWARD_PASSES = ForwardPasses()
"""This process's passes (every model's): one model replica's."""


def infer_counted(
    engine: Engine, images: np.ndarray, passes: ForwardPasses = FORWARD_PASSES
) -> list[np.ndarray]:
    """``engine``'s forward pass of ``images``, on its lone layout where it has one and
    no other pass runs in ``passes``."""
    with passes.running() as alone:
        if alone and isinstance(engine, LoneCapable):
            return engine.infer_alone(images)
        return engine.infer(images)
