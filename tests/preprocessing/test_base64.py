"""Base64 payloads: what the standard library's lenient decoder accepts is accepted
(line breaks, surrounding blanks, data URIs), the rest is refused as the client's
error."""

from __future__ import annotations

import base64

import pytest

from serve_app.errors import InvalidImageError
from serve_app.preprocessing.image_loading import decode_base64

DATA = bytes(range(256)) * 40
TEXT = base64.b64encode(DATA).decode()


@pytest.mark.parametrize(
    "value",
    [
        TEXT,
        TEXT.encode(),
        "\n".join(TEXT[i : i + 76] for i in range(0, len(TEXT), 76)),  # MIME line breaks
        f"  {TEXT}\n",
        f"data:image/jpeg;base64,{TEXT}",
    ],
    ids=["plain", "bytes", "wrapped", "blanks", "data-uri"],
)
def test_accepted(value: str | bytes) -> None:
    assert decode_base64(value) == DATA


@pytest.mark.parametrize("value", ["abc", "a===", TEXT[:-3]])
def test_refused(value: str) -> None:
    with pytest.raises(InvalidImageError, match="not valid base64"):
        decode_base64(value)
