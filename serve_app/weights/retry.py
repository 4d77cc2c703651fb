"""Bounded retries with exponential backoff, shared by the remote weight sources."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    """Further attempts after the first one fails."""
    backoff_s: float
    """Pause before the first retry; each further pause doubles."""

    def pauses(self) -> Iterator[float]:
        for attempt in range(self.retries):
            # Jitter keeps replicas that failed together from retrying in lockstep.
            yield self.backoff_s * 2**attempt * random.uniform(0.5, 1.0)  # noqa: S311

    def run(self, call: Callable[[], T], retry_on: tuple[type[BaseException], ...]) -> T:
        """``call()``, again after each ``retry_on`` failure; the last failure propagates."""
        for pause in self.pauses():
            try:
                return call()
            except retry_on:
                time.sleep(pause)
        return call()
