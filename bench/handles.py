"""Calling deployments from a plain, synchronous driver process (the benchmark, tests),
and reading the group and batch counters of a running application that way.

On the fast path (``RAY_SERVE_THROUGHPUT_OPTIMIZED``) a handle routes on the event
loop it was first used from, and stops for good once that loop closes; a driver
therefore makes all its calls on one loop that lives as long as the process.

Each deployment counts what crosses the hop into it: requests per group into the
preprocessing stage, images per call into the model replica, images per forward
pass. A handle call reaches one replica, so with several replicas of a deployment
these are that replica's counters.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ray import serve

from serve_app.config import Composition

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_guard = threading.Lock()


def run_on_driver_loop(coroutine: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
    """Run ``coroutine`` on the process's long-lived handle loop and wait for it."""
    return asyncio.run_coroutine_threadsafe(coroutine, _driver_loop()).result(timeout_s)


def call_deployment(app_name: str, deployment: str, method: str, *args: object) -> Any:
    """``deployment.method(*args)`` of a running application."""

    async def call() -> Any:
        handle = serve.get_deployment_handle(deployment, app_name)
        return await getattr(handle, method).remote(*args)

    return run_on_driver_loop(call())


def _driver_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _guard:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="serve-handles", daemon=True).start()
        return _loop


def hop_stats(app_name: str, composition: Composition) -> dict[str, Any]:
    """``dispatched`` (ingress → preprocessing), ``preprocessing`` (``received``, and
    ``sent`` to the model) and ``model`` (``received``, ``forward`` passes)."""
    if composition == "fused":
        stats: dict[str, Any] = call_deployment(app_name, "FusedIngress", "stats")
        return stats
    return {
        **call_deployment(app_name, "Ingress", "stats"),
        "preprocessing": call_deployment(app_name, "Preprocessor", "stats"),
        "model": call_deployment(app_name, "ModelReplica", "stats"),
    }
