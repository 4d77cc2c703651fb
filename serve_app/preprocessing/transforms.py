"""Resizing an image to the network input, recording the way back.

Images are HxWx3 uint8 arrays. Each resize returns the :class:`FrameTransform` that maps
network-input pixels to the pixels it was given.
"""

from __future__ import annotations

import cv2
import numpy as np

from serve_app.core.frames import FrameTransform, ResizeMode


def resize_to_input(
    image: np.ndarray, width: int, height: int, mode: ResizeMode
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``image`` to ``width`` x ``height`` as ``mode`` says.

    Fit modes keep the aspect ratio and pad the borders evenly (the image sits in
    the centre), rounding as Roboflow's letterbox does: see :func:`fit_size` and
    :func:`fit_transform`.
    """
    h, w = image.shape[:2]
    if mode is ResizeMode.STRETCH:
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        return resized, FrameTransform(w, h, scale_x=width / w, scale_y=height / h)
    new_w, new_h = fit_size(w, h, width, height)
    left, top = (width - new_w) // 2, (height - new_h) // 2
    canvas = np.full((height, width) + image.shape[2:], mode.pad_value, dtype=image.dtype)
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_LINEAR
    )
    return canvas, fit_transform(w, h, width, height)


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
