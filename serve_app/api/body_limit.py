"""Refuse a request body over the limit before it is read whole: by its declared
length at once, or, for a chunked body, as soon as the bytes read pass the limit."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(scope, receive, send)
            return
        read, over, started = 0, False, False

        async def counting() -> Message:
            nonlocal read, over
            message = await receive()
            read += len(message.get("body", b""))
            if read > self._max_bytes:
                # To the app the client has gone; the 413 is sent below.
                over = True
                return {"type": "http.disconnect"}
            return message

        async def noting(message: Message) -> None:
            nonlocal started
            if over:  # the app's answer to a body it never got whole: the 413 replaces it
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting, noting)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            f"The request body is larger than this server's limit of {self._max_bytes} "
            "bytes (RFSERVE_MAX_BODY_BYTES)"
        )
        await JSONResponse({"message": message}, status_code=413)(scope, receive, send)
