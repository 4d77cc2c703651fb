"""Every error → a JSON ``{"message": ...}`` body with the status its class names.

One place decides what a failure looks like to the client and in the log: a client
error (4xx) leaves only the request's own log line (``observability/request_log.py``),
with its message; a server error logs its traceback once, here.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve_app.errors import OverloadedError, ServeAppError, UpstreamUnavailableError
from serve_app.observability.request_log import note_error

logger = logging.getLogger("ray.serve")

_JSON_TYPES = ("application/json", "+json")


def unwrap_error(exc: BaseException) -> BaseException:
    """The exception a replica raised, not the Ray wrapper around it."""
    while isinstance(exc, RayTaskError) and exc.cause is not None and exc.cause is not exc:
        exc = exc.cause
    return exc


def as_client_error(exc: BaseException) -> ServeAppError | None:
    """``exc`` as the error clients are told about, or None for a bug (a 500)."""
    exc = unwrap_error(exc)
    if isinstance(exc, ServeAppError):
        return exc
    if isinstance(exc, BackPressureError):
        return OverloadedError(
            "The server is busy: a stage's queue is full; retry shortly",
            exc.retry_after_s or 1.0,
        )
    if isinstance(exc, RayActorError):  # a replica died or restarted mid-request
        return UpstreamUnavailableError(
            "A replica serving this request stopped; it is being replaced: retry shortly"
        )
    return None


def error_response(request: Request, exc: BaseException) -> JSONResponse:
    exc = unwrap_error(exc)
    error = as_client_error(exc)
    if error is None:
        logger.error("Unhandled error while serving a request", exc_info=exc)
        error = ServeAppError(f"Internal error: {type(exc).__name__}")
    note_error(request, error.message)
    headers = (
        {"Retry-After": str(math.ceil(error.retry_after_s))}
        if isinstance(error, OverloadedError)
        else None
    )
    return JSONResponse({"message": error.message}, status_code=error.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        content_type = request.headers.get("content-type", "")
        if _wants_json_body(details) and not any(t in content_type for t in _JSON_TYPES):
            message = (
                "The request body must be JSON: send it with Content-Type: application/json"
                f" (got {content_type or 'no content type'})"
            )
            note_error(request, message)
            return JSONResponse({"message": message, "details": details}, status_code=415)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        message = f"Invalid request: {where}: {first['msg']}"
        note_error(request, message)
        return JSONResponse({"message": message, "details": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Unknown routes, wrong methods and bodies over the size limit."""
        message = str(exc.detail)
        note_error(request, message)
        return JSONResponse({"message": message}, status_code=exc.status_code, headers=exc.headers)

    async def _known(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, exc)

    # Registered by class, these answer inside the middleware stack, so the request's
    # log line sees their status; anything else is a bug, answered (500) outside it.
    for known in (ServeAppError, RayTaskError, RayActorError, BackPressureError):
        app.add_exception_handler(known, _known)
    app.add_exception_handler(Exception, _known)


def _wants_json_body(details: list[dict[str, object]]) -> bool:
    """The body as a whole failed validation: it was not a JSON object at all."""
    return any(d["loc"] == ["body"] for d in details)
