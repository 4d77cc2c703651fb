"""Where the API key of a request is looked for, in the Roboflow server's order."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from serve_app.api.caller import request_api_key


def request_with(query: str = "", authorization: str | None = None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": query.encode(),
             "headers": headers}  # fmt: skip
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "authorization", "expected"),
    [
        ("api_key=q", "Bearer h", "q"),  # the query wins
        ("", "Bearer h", "h"),
        ("", "bearer  h ", "h"),  # scheme case and padding do not matter
        ("api_key=", "Bearer h", "h"),  # an empty query value is no key
        ("", "Basic dXNlcjpwdw==", None),  # another scheme is no key
        ("", "Bearer ", None),
        ("", None, None),  # the caller then takes the body's key, then ROBOFLOW_API_KEY
    ],
)
def test_query_then_bearer_header(
    query: str, authorization: str | None, expected: str | None
) -> None:
    assert asyncio.run(request_api_key(request_with(query, authorization))) == expected
