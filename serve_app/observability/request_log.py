"""One log line and one metrics sample per HTTP request, written by the ingress.

The line carries the request id Serve gives every request (the ``X-Request-ID`` header,
also sent back to the client), which travels with the request to every stage
(``InferenceRequest.request_id``): a failure logged by another deployment names it.
The path is logged without its query string, where classic clients put API keys.
Serve's own access log is off (``DeploymentConfig.ray_options``), so a request, good or
bad, writes exactly this one line; a server error adds its traceback.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app.observability.metrics import server_metrics

logger = logging.getLogger("ray.serve")

REQUEST_ID_HEADER = "x-request-id"
_STATE_MODEL, _STATE_IMAGES, _STATE_ERROR = "rfserve_model", "rfserve_images", "rfserve_error"


def request_id(request: Request) -> str:
    """The id Serve assigned this request (or the client sent as ``X-Request-ID``)."""
    return request.headers.get(REQUEST_ID_HEADER, "")


def note_request(request: Request, model_id: str, images: int) -> None:
    """What the request asked for, for its log line."""
    setattr(request.state, _STATE_MODEL, model_id)
    setattr(request.state, _STATE_IMAGES, images)


def note_error(request: Request, message: str) -> None:
    """Why the request failed, for its log line."""
    setattr(request.state, _STATE_ERROR, message)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            _record(scope, status, time.perf_counter() - start)


def _record(scope: Scope, status: int, elapsed_s: float) -> None:
    state: dict[str, Any] = scope.get("state") or {}
    route = getattr(scope.get("route"), "path", "unmatched")
    model = state.get(_STATE_MODEL, "")
    rid = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
    error = state.get(_STATE_ERROR)
    level = logging.WARNING if status >= 500 else logging.INFO
    logger.log(
        level,
        "%s %s %d %.1fms request_id=%s model=%s images=%s%s",
        scope.get("method", ""),
        scope.get("path", ""),
        status,
        elapsed_s * 1e3,
        rid,
        model or "-",
        state.get(_STATE_IMAGES, 0),
        f" error={error!r}" if error else "",
    )
    metrics = server_metrics()
    # Only models that answered label the series: a client could invent ids without end.
    metrics.requests.inc(
        tags={"route": route, "model": model if status < 400 else "", "status": str(status)}
    )
    metrics.request_seconds.observe(elapsed_s, tags={"route": route})
