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
    the centre), as Roboflow's letterbox does.
    """
    h, w = image.shape[:2]
    if mode is ResizeMode.STRETCH:
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        return resized, FrameTransform(w, h, scale_x=width / w, scale_y=height / h)
    scale = min(width / w, height / h)
    new_w = max(1, min(width, round(w * scale)))
    new_h = max(1, min(height, round(h * scale)))
    pad_x = (width - new_w) // 2
    pad_y = (height - new_h) // 2
    canvas = np.full((height, width) + image.shape[2:], mode.pad_value, dtype=image.dtype)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_LINEAR
    )
    transform = FrameTransform(
        w, h, scale_x=new_w / w, scale_y=new_h / h, pad_x=float(pad_x), pad_y=float(pad_y)
    )
    return canvas, transform
