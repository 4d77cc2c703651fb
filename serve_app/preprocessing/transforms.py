"""Resizing an image to the network input, recording the way back.

Images are HxWx3 uint8 arrays. Each resize returns the :class:`FrameTransform` that maps
network-input pixels to the pixels it was given.
"""

from __future__ import annotations

import cv2
import numpy as np

from serve_app.core.frames import FrameTransform, ResizeMode
from serve_app.core.placement import input_placement


def resize_to_input(
    image: np.ndarray, width: int, height: int, mode: ResizeMode
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``image`` to ``width`` x ``height`` as ``mode`` says.

    Fit modes keep the aspect ratio and pad the borders evenly (the image sits in
    the centre), rounding as Roboflow's letterbox does (``core/placement.py``).
    """
    h, w = image.shape[:2]
    place = input_placement(w, h, width, height, mode)
    resized = cv2.resize(image, (place.width, place.height), interpolation=cv2.INTER_LINEAR)
    if mode is ResizeMode.STRETCH:
        return resized, place.frame
    canvas = np.full((height, width) + image.shape[2:], mode.pad_value, dtype=image.dtype)
    canvas[place.top : place.top + place.height, place.left : place.left + place.width] = resized
    return canvas, place.frame
