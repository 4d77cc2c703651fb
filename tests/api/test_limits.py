"""The server's request limits: each refused with a JSON 413 before the work it would
cost, and the server serving on afterwards."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from serve_app.config import Composition, ServerSettings
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed, small_app
from tests.support import b64_image, solid_image

APP = "limits"
ROUTE = "/infer/object_detection"
MAX_BODY = 300_000
MAX_IMAGES = 3
MAX_PIXELS = 1_000_000
GOOD = b64_image(solid_image(64, 64, (0, 0, 255)))


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG of a few dozen bytes whose header declares ``width`` x ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """The markers of a baseline JPEG whose frame header declares ``width`` x ``height``."""
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    scan = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + frame + scan + b"\x00" * 16 + b"\xff\xd9"


@pytest.fixture(scope="module")
def limited(serve_port: int, settings: ServerSettings, composition: Composition) -> Iterator[str]:
    limits = settings.model_copy(
        update={
            "max_body_bytes": MAX_BODY,
            "max_images_per_request": MAX_IMAGES,
            "max_image_pixels": MAX_PIXELS,
        }
    )
    config = small_app(limits, composition=composition)
    with deployed(APP, config, serve_port, FakeEngineFactory()) as url:
        yield url


def post(url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}{ROUTE}", json=body, timeout=60)


def test_a_body_over_the_limit_is_413(limited: str) -> None:
    huge = {"type": "base64", "value": "A" * (MAX_BODY + 1000)}
    r = post(limited, {"model_id": "fixture-yolov8/1", "image": huge})
    assert r.status_code == 413
    assert set(r.json()) == {"message"}
    assert post(limited, {"model_id": "fixture-yolov8/1", "image": GOOD}).status_code == 200


def test_too_many_images_is_413_naming_the_limit(limited: str) -> None:
    r = post(limited, {"model_id": "fixture-yolov8/1", "image": [GOOD] * (MAX_IMAGES + 1)})
    assert r.status_code == 413
    assert "RFSERVE_MAX_IMAGES_PER_REQUEST" in r.json()["message"]
    r = post(limited, {"model_id": "fixture-yolov8/1", "image": [GOOD] * MAX_IMAGES})
    assert r.status_code == 200 and len(r.json()) == MAX_IMAGES


@pytest.mark.parametrize("encode", [png_declaring, jpeg_declaring], ids=["png", "jpeg"])
def test_a_huge_image_is_refused_from_its_header(limited: str, encode) -> None:  # noqa: ANN001
    tiny_file = encode(30_000, 30_000)  # 0.9 gigapixels in under 100 bytes
    assert len(tiny_file) < 100
    image = {"type": "base64", "value": base64.b64encode(tiny_file).decode()}
    started = time.monotonic()
    r = post(limited, {"model_id": "fixture-yolov8/1", "image": image})
    assert r.status_code == 413, r.text
    assert "30000x30000" in r.json()["message"]
    # Decoding it would take seconds and gigabytes; this bound is about that, not speed.
    assert time.monotonic() - started < 10


def test_a_numpy_header_declaring_a_huge_array_is_refused_from_the_header(limited: str) -> None:
    header = io.BytesIO()
    shape = {"descr": "|u1", "fortran_order": False, "shape": (2**20, 2**20, 3)}
    np.lib.format.write_array_header_1_0(header, shape)  # and no pixels after it
    image = {"type": "numpy", "value": base64.b64encode(header.getvalue()).decode()}
    r = post(limited, {"model_id": "fixture-yolov8/1", "image": image})
    assert r.status_code == 413, r.text
    assert "1048576x1048576" in r.json()["message"]
    assert post(limited, {"model_id": "fixture-yolov8/1", "image": GOOD}).status_code == 200


def test_an_image_just_over_the_pixel_limit_is_refused_and_one_under_served(limited: str) -> None:
    over = b64_image(solid_image(1001, 1000, (0, 0, 255)))
    under = b64_image(solid_image(1000, 1000, (0, 0, 255)))
    assert post(limited, {"model_id": "fixture-yolov8/1", "image": over}).status_code == 413
    assert post(limited, {"model_id": "fixture-yolov8/1", "image": under}).status_code == 200


def test_a_chunked_body_over_the_limit_is_413_too(limited: str) -> None:
    """No Content-Length to go by: the body is cut off once it passes the limit."""

    def chunks() -> Iterator[bytes]:
        yield b'{"model_id": "fixture-yolov8/1", "image": {"type": "base64", "value": "'
        for _ in range(MAX_BODY // 10_000 + 5):
            yield b"A" * 10_000
        yield b'"}}'

    r = httpx.post(
        f"{limited}{ROUTE}",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413
    assert "RFSERVE_MAX_BODY_BYTES" in r.json()["message"]
