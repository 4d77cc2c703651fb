"""Resizing an image to the network input, recording the way back.

Images are HxWx3 uint8 arrays. Each resize returns the :class:`FrameTransform` that maps
network-input pixels to the pixels it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from serve_app.core.frames import FrameTransform, ResizeMode


@dataclass(frozen=True)
class Placement:
    """Where an image lands in the network input: resized to ``width`` x ``height`` and
    placed at (``left``, ``top``), the rest padded; ``frame`` maps predictions back.

    Shared by the CPU resize below and the device one (``serve_app/device``), so both
    give the network the same pixels and put predictions back in the same place.
    """

    width: int
    height: int
    left: int
    top: int
    frame: FrameTransform


def input_placement(w: int, h: int, width: int, height: int, mode: ResizeMode) -> Placement:
    """The placement of a ``w`` x ``h`` image in a ``width`` x ``height`` input."""
    if mode is ResizeMode.STRETCH:
        return Placement(width, height, 0, 0, FrameTransform(w, h, width / w, height / h))
    new_w, new_h = fit_size(w, h, width, height)
    return Placement(
        new_w,
        new_h,
        (width - new_w) // 2,
        (height - new_h) // 2,
        fit_transform(w, h, width, height),
    )


def resize_to_input(
    image: np.ndarray, width: int, height: int, mode: ResizeMode
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``image`` to ``width`` x ``height`` as ``mode`` says.

    Fit modes keep the aspect ratio and pad the borders evenly (the image sits in
    the centre), rounding as Roboflow's letterbox does: see :func:`fit_size` and
    :func:`fit_transform`.
    """
    h, w = image.shape[:2]
    place = input_placement(w, h, width, height, mode)
    resized = cv2.resize(image, (place.width, place.height), interpolation=cv2.INTER_LINEAR)
    if mode is ResizeMode.STRETCH:
        return resized, place.frame
    canvas = np.full((height, width) + image.shape[2:], mode.pad_value, dtype=image.dtype)
    canvas[place.top : place.top + place.height, place.left : place.left + place.width] = resized
    return canvas, place.frame


def fit_size(w: int, h: int, width: int, height: int) -> tuple[int, int]:
    """Size a ``w`` x ``h`` image is resized to before a Fit mode pads it to
    ``width`` x ``height``: the side that fills the input is exact, the other
    truncated toward zero, as Roboflow's server computes it."""
    image_ratio, input_ratio = w / h, width / height
    if image_ratio >= input_ratio:
        return width, max(1, int(width / image_ratio))
    return max(1, int(height * image_ratio)), height


def fit_transform(w: int, h: int, width: int, height: int) -> FrameTransform:
    """The map back from a Fit-mode input, as Roboflow's server maps boxes back.

    One scale for both axes (the smaller ratio) and padding of half the margin left
    by the image *rounded* to that scale, which may be half a pixel off where
    :func:`fit_size` truncated; kept so boxes land on Roboflow's to the pixel.
    """
    scale = min(width / w, height / h)
    pad_x = (width - round(w * scale)) / 2
    pad_y = (height - round(h * scale)) / 2
    return FrameTransform(w, h, scale_x=scale, scale_y=scale, pad_x=pad_x, pad_y=pad_y)
