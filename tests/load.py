"""A load generator for fault tests: a few clients posting in a loop while something
breaks, every outcome kept with its timing, so a test can say what clients saw."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import httpx

HANG_BOUND_S = 60.0
"""A request still unanswered after this long is hung: the bound is about hanging."""


@dataclass(frozen=True)
class Outcome:
    start: float
    end: float
    """``time.monotonic()`` when the request was sent and when it ended."""
    status: int | None
    """The HTTP status; None when no answer came (see ``error``)."""
    body: str
    error: str | None = None
    """The transport error's class name, when there was no answer."""

    @property
    def hung(self) -> bool:
        return self.error is not None and "Timeout" in self.error


class LoadGenerator:
    """``clients`` threads, each posting ``body`` to ``url`` until :meth:`stop`; a
    request times out (and counts as hung) after ``hang_bound_s``."""

    def __init__(
        self, url: str, body: object, clients: int, hang_bound_s: float = HANG_BOUND_S
    ) -> None:
        self.url, self.body, self.hang_bound_s = url, body, hang_bound_s
        self.results: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> LoadGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> bool:
        """Stop sending; True when every client's last request ended in time."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.hang_bound_s + 5)
        return not any(thread.is_alive() for thread in self._threads)

    def _client(self) -> None:
        with httpx.Client(timeout=self.hang_bound_s) as c:
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    r = c.post(self.url, json=self.body)
                except httpx.TransportError as e:
                    self.results.append(
                        Outcome(start, time.monotonic(), None, "", type(e).__name__)
                    )
                    time.sleep(0.1)  # a refused connection fails at once: do not spin
                    continue
                self.results.append(Outcome(start, time.monotonic(), r.status_code, r.text))

    def wait_until(self, serving: int, since: float, timeout_s: float) -> float | None:
        """Until ``serving`` requests sent after ``since`` in a row are answered 200;
        returns :func:`serving_again` (None if that did not happen in time)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            recovered = serving_again(self.results, since, serving)
            if recovered is not None:
                return recovered
            time.sleep(0.2)
        return None


def serving_again(results: Sequence[Outcome], since: float, streak: int) -> float | None:
    """When the first of ``streak`` consecutive 200s (requests sent after ``since``,
    in the order they were sent) was answered, or None when there is no such run."""
    after = sorted((r for r in results if r.start > since), key=lambda r: r.start)
    run = 0
    for i, outcome in enumerate(after):
        run = run + 1 if outcome.status == 200 else 0
        if run == streak:
            return after[i - streak + 1].end
    return None
