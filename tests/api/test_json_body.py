"""Bodies of the inference routes are parsed by pydantic's JSON parser: to the same
value as the standard library's, and where that parser refuses a body, by the
standard library itself, so bad JSON is answered as before."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.types import Message

from serve_app.api.json_body import FastJsonRequest, FastJsonRoute
from serve_app.api.routes import inference, legacy


def parsed(body: bytes) -> Any:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    request = FastJsonRequest({"type": "http", "method": "POST", "headers": []}, receive)
    return asyncio.run(request.json())


@pytest.mark.parametrize(
    "body",
    [
        b'{"model_id": "a/1", "image": {"type": "base64", "value": "' + b"QUJD" * 1000 + b'"}}',
        '{"text": "caf\\u00e9 \u00e9t\u00e9 \\n \\"q\\" \\ud83d\\ude00"}'.encode(),
        b'{"nan": NaN, "inf": -Infinity, "big": 123456789012345678901234567890, "f": 0.1}',
        b'{"same": 1, "same": 2}',
        b'[1, [2, [3, {"a": null, "b": true, "c": false}]]]',
        b'  "just a string"  ',
        '{"a": "\u00e9"}'.encode("utf-16"),  # not UTF-8: read by the standard library
        b'{"lone": "\\ud800"}',
    ],
)
def test_the_same_value_as_the_standard_library(body: bytes) -> None:
    value, expected = parsed(body), json.loads(body)
    assert json.dumps(value) == json.dumps(expected)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"{'a': 1}", b"nul", b'{"a": 1} x'])
def test_bad_json_raises_what_the_standard_library_raises(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        parsed(body)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    assert (raised.value.msg, raised.value.pos) == (expected.value.msg, expected.value.pos)


def test_every_inference_route_parses_its_body_so() -> None:
    routes = [*inference.router.routes, *legacy.router.routes]
    assert len(routes) >= 6
    assert all(isinstance(route, FastJsonRoute) for route in routes)
