"""Where a request's Roboflow API key comes from, in the Roboflow server's order:
the ``api_key`` query parameter, an ``Authorization: Bearer`` header, the JSON body's
``api_key``; with none, the Roboflow weight source falls back to ``ROBOFLOW_API_KEY``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


async def request_api_key(request: Request) -> str | None:
    """The key in the query string or the bearer token: either wins over the body's."""
    if key := request.query_params.get("api_key"):
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


RequestApiKey = Annotated[str | None, Depends(request_api_key)]
"""Route parameter: the query or header key; callers fall back to the body's key."""
