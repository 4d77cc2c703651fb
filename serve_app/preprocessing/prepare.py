"""The model's preprocessing, as its :class:`ModelSpec` declares it.

Roboflow's order: auto-orient (at decode time, see ``image_loading``), static crop,
contrast, grayscale, then the resize to the network's input. Only the crop and the
resize move pixels, and both are recorded in the :class:`FrameTransform` that maps
predictions back onto the image the client sent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from serve_app.core.frames import FrameTransform, ResizeMode
from serve_app.core.requests import PreprocessOptions
from serve_app.core.spec import ModelSpec
from serve_app.preprocessing.steps import adjust_contrast, take_static_crop, to_grayscale
from serve_app.preprocessing.transforms import resize_to_input

if TYPE_CHECKING:  # image loading needs the settings (pydantic); the GPU check has none
    from serve_app.preprocessing.image_loading import DecodedImage


def should_auto_orient(spec: ModelSpec, options: PreprocessOptions) -> bool:
    """EXIF orientation is applied only where the model was trained with it."""
    return spec.preprocessing.auto_orient and not options.disable_auto_orient


def decode_floor(spec: ModelSpec, options: PreprocessOptions) -> tuple[int, int] | None:
    """The smallest (width, height) a decoded image may have for the network still to
    get its full input size from it: the input, enlarged by the share of the image the
    static crop keeps. None where the crop keeps nothing (the crop step refuses it)."""
    crop = None if options.disable_static_crop else spec.preprocessing.static_crop
    width, height = spec.input_width, spec.input_height
    if crop is None:
        return width, height
    kept_x, kept_y = crop.kept_share()
    if kept_x <= 0 or kept_y <= 0:
        return None
    return math.ceil(width / kept_x), math.ceil(height / kept_y)


def prepare_decoded(
    decoded: DecodedImage, spec: ModelSpec, options: PreprocessOptions
) -> tuple[np.ndarray, FrameTransform]:
    """:func:`prepare_image` of an image decoded whole or at a reduced scale; the map
    returned reaches the whole image's pixels either way."""
    pixels, frame = prepare_image(decoded.pixels, spec, options)
    if decoded.reduced:
        frame = frame.rescaled(decoded.width, decoded.height)
    return pixels, frame


def prepare_image(
    image_bgr: np.ndarray, spec: ModelSpec, options: PreprocessOptions
) -> tuple[np.ndarray, FrameTransform]:
    """BGR image as decoded (HxWx3 uint8) → RGB uint8 at the network's input size, and
    the map from those pixels back to ``image_bgr``'s.

    The request's switches turn off steps of the model's, never on.
    """
    steps = spec.preprocessing
    crop = None if options.disable_static_crop else steps.static_crop
    contrast = None if options.disable_contrast else steps.contrast
    height, width = image_bgr.shape[:2]
    region, (offset_x, offset_y) = image_bgr, (0, 0)
    if crop is not None:
        region, (offset_x, offset_y) = take_static_crop(image_bgr, crop)
    if contrast is not None:
        region = adjust_contrast(region, contrast)
    if steps.grayscale and not options.disable_grayscale:
        region = to_grayscale(region)
    mode = steps.resize.mode if steps.resize is not None else ResizeMode.STRETCH
    pixels, frame = resize_to_input(region, spec.input_width, spec.input_height, mode)
    if crop is not None:
        frame = frame.with_offset(offset_x, offset_y, width, height)
    # BGR to RGB on the network-size result: flipping the decoded image first made
    # OpenCV copy all of it (46 ms for a 4K frame, against 0.3 ms here). Resizing and
    # padding treat the channels alike, so the pixels are the same.
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), frame
