"""Every error → a JSON ``{"message": ...}`` body with the status its class names."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray.exceptions import RayTaskError

from serve_app.errors import ServeAppError

logger = logging.getLogger("ray.serve")


def unwrap_error(exc: BaseException) -> BaseException:
    """The exception a replica raised, not the Ray wrapper around it."""
    while isinstance(exc, RayTaskError) and exc.cause is not None and exc.cause is not exc:
        exc = exc.cause
    return exc


def error_response(exc: BaseException) -> JSONResponse:
    exc = unwrap_error(exc)
    if isinstance(exc, ServeAppError):
        return JSONResponse({"message": exc.message}, status_code=exc.status_code)
    logger.exception("Unhandled error while serving a request", exc_info=exc)
    return JSONResponse({"message": f"Internal error: {type(exc).__name__}"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        return JSONResponse(
            {"message": f"Invalid request: {where}: {first['msg']}", "details": details},
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)
