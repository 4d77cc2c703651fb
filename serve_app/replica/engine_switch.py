"""The engine a model serves with now, and the optimised one built behind it.

A model starts on an engine that is ready at once (``engines.factory.create_engine``),
so its first request never waits for a build. The optimised engine is built (or
fetched from the engine store) on a background thread and takes over atomically: a
batch reads :attr:`EngineSwitch.live` once, when it starts, so the swap lands between
two batches and a batch in flight finishes on the engine it began with. A build that
fails is logged; the model keeps serving on what it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from serve_app.core.engines import BuildState, BuildStatus, EngineOrigin, EngineStatus
from serve_app.engines.base import Engine

if TYPE_CHECKING:
    from serve_app.engines.builds import EngineBuild
    from serve_app.engines.store import EngineStore

logger = logging.getLogger("ray.serve")

PROGRESS_STEP = 0.1
"""Progress reported on at least this step (and at every change of state)."""


class EngineSwitch:
    def __init__(
        self,
        live: Engine,
        build: EngineBuild | None = None,
        store: EngineStore | None = None,
        fallback: str | None = None,
    ) -> None:
        self._live = live
        self._build = build
        self._store = store
        self._fallback = fallback
        self._guard = threading.Lock()
        self._state = BuildState.QUEUED
        self._progress = 0.0
        self._started: float | None = None
        self._finished: float | None = None
        self._origin: EngineOrigin | None = None
        self._error: str | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    @property
    def live(self) -> Engine:
        return self._live

    def start(self, on_change: Callable[[], None] = lambda: None) -> None:
        """Start the build, if there is one; ``on_change`` is called (on the build's
        thread) whenever :meth:`status` changes."""
        if self._build is None or self._thread is not None:
            return
        self._on_change = on_change
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name=f"engine-build-{self._build.backend}", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the build ended; False on timeout. For tools and tests."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def status(self) -> EngineStatus:
        with self._guard:
            build = None
            if self._build is not None:
                end = self._finished or time.monotonic()
                build = BuildStatus(
                    backend=self._build.backend,
                    state=self._state,
                    progress=round(self._progress, 3),
                    elapsed_s=round(end - self._started, 3) if self._started else 0.0,
                    origin=self._origin,
                    error=self._error,
                )
            return EngineStatus(self._live.name, self._live.device, build, self._fallback)

    def _run(self) -> None:
        assert self._build is not None
        model = self._build.package.spec.model_id
        try:
            engine, origin = self._build.run(self._store, self._report)
        except Exception as exc:  # keep serving on the engine we have
            logger.exception("Building the %s engine of %s failed", self._build.backend, model)
            self._finish(BuildState.FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        # The new engine and its "ready" state appear together: nobody reading the
        # status may see one without the other.
        self._finish(BuildState.READY, origin=origin, engine=engine)
        logger.info("Model %s now runs on %s (%s)", model, engine.name, origin.value)

    def _report(self, state: BuildState, progress: float) -> None:
        with self._guard:
            changed = state != self._state or progress - self._progress >= PROGRESS_STEP
            self._state = state
            self._progress = max(self._progress, progress)
        if changed:
            self._on_change()

    def _finish(
        self,
        state: BuildState,
        origin: EngineOrigin | None = None,
        error: str | None = None,
        engine: Engine | None = None,
    ) -> None:
        with self._guard:
            if engine is not None:
                self._live = engine
            self._state, self._origin, self._error = state, origin, error
            self._finished = time.monotonic()
            if state is BuildState.READY:
                self._progress = 1.0
        self._on_change()
