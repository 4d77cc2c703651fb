"""Turn a client's image payload into an HxWx3 uint8 BGR array.

Payloads arrive as base64 text, a URL, a NumPy array or raw bytes (multipart).
Whatever declares a size (an image file's header, a ``.npy`` header) is checked
against the pixel limit before anything is decoded; NumPy payloads are read by
:mod:`~serve_app.preprocessing.numpy_payload`.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from serve_app.core.requests import ImagePayload, ImageType
from serve_app.errors import InvalidImageError
from serve_app.preprocessing.numpy_payload import check_pixels, load_numpy_image
from serve_app.preprocessing.url_fetch import UrlFetchPolicy, fetch_url

# Pillow only reads headers here; the size limit is ours (RFSERVE_MAX_IMAGE_PIXELS), so
# its own bomb check, which would refuse some images our limit allows, is off.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class ImageLimits:
    """What the server accepts of the images clients send."""

    allow_pickled_numpy: bool
    max_pixels: int
    """Larger images are refused (413) from what declares their size, before decoding."""
    url: UrlFetchPolicy


def load_image(payload: ImagePayload, limits: ImageLimits, auto_orient: bool = True) -> np.ndarray:
    """Decode ``payload``; EXIF orientation is applied when ``auto_orient``."""
    if payload.type is ImageType.NUMPY:
        data = _as_bytes(payload.value)
        image = _array_to_bgr(load_numpy_image(data, limits.allow_pickled_numpy, limits.max_pixels))
    else:
        if payload.type is ImageType.URL:
            data = fetch_url(str(payload.value), limits.url)
        elif payload.type is ImageType.BASE64:
            data = _b64decode(payload.value)
        else:
            data = _as_bytes(payload.value)
        # A small file can declare a huge image: refuse it before decoding a pixel.
        declared = size_from_header(data)
        if declared is not None:
            check_pixels(*declared, limits.max_pixels)
        image = decode_image_bytes(data, auto_orient)
    check_pixels(image.shape[1], image.shape[0], limits.max_pixels)
    return image


def size_from_header(data: bytes) -> tuple[int, int] | None:
    """(width, height) an encoded image declares, read from its header alone (Pillow
    parses headers lazily); None for a format Pillow does not know, left to OpenCV."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return int(width), int(height)


def decode_image_bytes(data: bytes, auto_orient: bool = True) -> np.ndarray:
    """Decode an encoded image file (JPEG, PNG, WebP, BMP, TIFF...) to BGR uint8."""
    flags = cv2.IMREAD_COLOR if auto_orient else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, flags) if buffer.size else None
    if image is None:
        raise InvalidImageError("Could not decode the image: not a supported image format")
    return image


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else _b64decode(value)


def _b64decode(value: str | bytes) -> bytes:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if text.startswith("data:") and "," in text:  # a data URI: data:image/jpeg;base64,...
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text.strip(), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"Image is not valid base64: {exc}") from None


def _array_to_bgr(array: np.ndarray) -> np.ndarray:
    """HxW, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA) uint8, as cv2 makes them (the payload's
    reader checked that much) → HxWx3 BGR."""
    if array.ndim == 2 or array.shape[2] == 1:
        return cv2.cvtColor(
            np.ascontiguousarray(array.reshape(array.shape[:2])), cv2.COLOR_GRAY2BGR
        )
    if array.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(array)
