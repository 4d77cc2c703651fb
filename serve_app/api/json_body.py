"""Request bodies parsed by pydantic's JSON parser rather than the standard library's.

FastAPI reads a JSON body with ``Request.json()`` (``json.loads``) and validates the
result. A request carries its image as base64 text: ``json.loads`` costs 2.1 ms for a
4K frame's 2.4 MB body, ``pydantic_core.from_json`` 0.3 ms (bench/README.md), which was
about a tenth of the fused composition's CPU per 4K image. The parsed value is the
same, and so is everything after it: FastAPI validates it against the route's
request type as before, so the OpenAPI schema and every validation answer stay as
they were. A body the fast parser refuses is read by the standard library again, so
a client sending bad JSON (or UTF-16) gets exactly the answer it got before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import Request, Response
from fastapi.routing import APIRoute

_UNREAD = object()


class FastJsonRequest(Request):
    _parsed: Any = _UNREAD

    async def json(self) -> Any:
        if self._parsed is _UNREAD:
            body = await self.body()
            try:
                self._parsed = pydantic_core.from_json(body)
            except ValueError:
                # The standard library's value, or its JSONDecodeError, as before.
                self._parsed = await super().json()
        return self._parsed


class FastJsonRoute(APIRoute):
    """A route whose handler (and its dependencies) see a :class:`FastJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_fast_json(request: Request) -> Response:
            return await handler(FastJsonRequest(request.scope, request.receive))

        return with_fast_json
