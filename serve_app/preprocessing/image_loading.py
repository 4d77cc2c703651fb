"""Turn a client's image payload into an HxWx3 uint8 BGR array.

Payloads arrive as base64 text, a URL, a NumPy array or raw bytes (multipart).
Whatever declares a size (an image file's header, a ``.npy`` header) is checked
against the pixel limit before anything is decoded; NumPy payloads are read by
:mod:`~serve_app.preprocessing.numpy_payload`.

A JPEG much larger than the network needs is decoded at a reduced scale (libjpeg
scales while it decodes: 1/2, 1/4 or 1/8, the largest that leaves the size asked
for), which skips most of the decoder's work on a large frame; the
:class:`DecodedImage` keeps the full image's size, so answers map back onto it.
``RFSERVE_SCALED_JPEG_DECODE=false`` decodes every image whole, as Roboflow's server
does, for the same network pixels as it.
"""

from __future__ import annotations

import binascii
import io
from dataclasses import dataclass

import cv2
import numpy as np
import pybase64
from PIL import Image, UnidentifiedImageError

from serve_app.core.requests import ImagePayload, ImageType
from serve_app.errors import InvalidImageError
from serve_app.preprocessing.jpeg_scale import reduced_scale
from serve_app.preprocessing.numpy_payload import check_pixels, load_numpy_image
from serve_app.preprocessing.url_fetch import UrlFetchPolicy, fetch_url

# Pillow only reads headers here; the size limit is ours (RFSERVE_MAX_IMAGE_PIXELS), so
# its own bomb check, which would refuse some images our limit allows, is off.
Image.MAX_IMAGE_PIXELS = None


# EXIF orientations 5-8 turn the image a quarter: its width and height swap.
_EXIF_ORIENTATION = 0x0112
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ImageLimits:
    """What the server accepts of the images clients send."""

    allow_pickled_numpy: bool
    max_pixels: int
    """Larger images are refused (413) from what declares their size, before decoding."""
    url: UrlFetchPolicy
    scaled_jpeg_decode: bool = True
    """Decode a JPEG much larger than the network's input at a reduced scale."""


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray
    """HxWx3 uint8 BGR as decoded: the whole image, or a reduced scale of it."""
    width: int
    """The whole image's width and height, oriented as ``pixels``."""
    height: int

    @property
    def reduced(self) -> bool:
        return self.pixels.shape[:2] != (self.height, self.width)


@dataclass(frozen=True)
class ImageHeader:
    width: int
    """As stored, before any EXIF orientation."""
    height: int
    jpeg: bool
    orientation: int
    """EXIF orientation, 1 (as stored) to 8; 1 where the file has none."""

    def oriented_size(self, auto_orient: bool) -> tuple[int, int]:
        turned = auto_orient and self.orientation in _QUARTER_TURNS
        return (self.height, self.width) if turned else (self.width, self.height)


def load_image(payload: ImagePayload, limits: ImageLimits, auto_orient: bool = True) -> np.ndarray:
    """Decode ``payload`` whole; EXIF orientation is applied when ``auto_orient``."""
    return decode_payload(payload, limits, auto_orient).pixels


def decode_payload(
    payload: ImagePayload,
    limits: ImageLimits,
    auto_orient: bool = True,
    at_least: tuple[int, int] | None = None,
) -> DecodedImage:
    """Decode ``payload``, at a reduced scale where it is a JPEG that stays at least
    ``at_least`` (width, height, oriented) pixels at that scale and the limits allow it;
    whole otherwise. EXIF orientation is applied when ``auto_orient``."""
    if payload.type is ImageType.NUMPY:
        data = _as_bytes(payload.value)
        image = _array_to_bgr(load_numpy_image(data, limits.allow_pickled_numpy, limits.max_pixels))
        return DecodedImage(image, image.shape[1], image.shape[0])
    if payload.type is ImageType.URL:
        data = fetch_url(str(payload.value), limits.url)
    elif payload.type is ImageType.BASE64:
        data = decode_base64(payload.value)
    else:
        data = _as_bytes(payload.value)
    # A small file can declare a huge image: refuse it before decoding a pixel.
    header = read_header(data)
    if header is not None:
        check_pixels(header.width, header.height, limits.max_pixels)
        if header.jpeg and at_least is not None and limits.scaled_jpeg_decode:
            reduced = _decode_reduced(data, header, auto_orient, at_least)
            if reduced is not None:
                return reduced
    image = decode_image_bytes(data, auto_orient)
    check_pixels(image.shape[1], image.shape[0], limits.max_pixels)
    return DecodedImage(image, image.shape[1], image.shape[0])


def _decode_reduced(
    data: bytes, header: ImageHeader, auto_orient: bool, at_least: tuple[int, int]
) -> DecodedImage | None:
    """The JPEG at the coarsest scale that keeps ``at_least``; None where no scale
    does, or where the decoder's size is not the header's at that scale (then the
    map back could not be trusted, and the image is decoded whole)."""
    width, height = header.oriented_size(auto_orient)
    chosen = reduced_scale(width, height, at_least)
    if chosen is None:
        return None
    scale, flag = chosen
    if not auto_orient:
        flag |= cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    # libjpeg rounds a reduced side up.
    if image is None or image.shape[:2] != (-(-height // scale), -(-width // scale)):
        return None
    return DecodedImage(image, width, height)


def read_header(data: bytes) -> ImageHeader | None:
    """What an encoded image declares, read from its header alone (Pillow parses
    headers lazily); None for a format Pillow does not know, left to OpenCV."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            # Phones write MPO: a JPEG followed by more pictures, which OpenCV skips.
            jpeg = image.format in ("JPEG", "MPO")
            orientation = _orientation(image) if jpeg else 1
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return ImageHeader(int(width), int(height), jpeg, orientation)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation; 1 where it is missing or malformed (a scaled decode then
    finds OpenCV's size differs, and decodes whole)."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF raises nearly anything
        return 1
    return value if isinstance(value, int) else 1


def decode_image_bytes(data: bytes, auto_orient: bool = True) -> np.ndarray:
    """Decode an encoded image file (JPEG, PNG, WebP, BMP, TIFF...) to BGR uint8."""
    flags = cv2.IMREAD_COLOR if auto_orient else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, flags) if buffer.size else None
    if image is None:
        raise InvalidImageError("Could not decode the image: not a supported image format")
    return image


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else decode_base64(value)


def decode_base64(value: str | bytes) -> bytes:
    """The file in a base64 payload (a data URI's too)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if text.startswith("data:") and "," in text:  # a data URI: data:image/jpeg;base64,...
        text = text.split(",", 1)[1]
    try:
        # Strict first (SIMD, a tenth of the standard library's time); text with line
        # breaks or other characters outside the alphabet then has them dropped, as
        # the standard library's non-validating decoder does.
        try:
            return pybase64.b64decode(text, validate=True)
        except binascii.Error:
            return pybase64.b64decode(text.strip(), validate=False)
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
