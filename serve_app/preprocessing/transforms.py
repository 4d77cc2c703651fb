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
    frame = input_frame(w, h, width, height, mode)
    new_w, new_h = round(w * frame.scale_x), round(h * frame.scale_y)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if mode is ResizeMode.STRETCH:
        return resized, frame
    pad_x, pad_y = int(frame.pad_x), int(frame.pad_y)
    canvas = np.full((height, width) + image.shape[2:], mode.pad_value, dtype=image.dtype)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, frame


def input_frame(w: int, h: int, width: int, height: int, mode: ResizeMode) -> FrameTransform:
    """Where a ``w`` x ``h`` image lands in a ``width`` x ``height`` input: its
    resized size is (``w * scale_x``, ``h * scale_y``), at (``pad_x``, ``pad_y``).

    Shared by the CPU resize above and the device one (``serve_app/device``), so both
    put predictions back in the same place.
    """
    if mode is ResizeMode.STRETCH:
        return FrameTransform(w, h, scale_x=width / w, scale_y=height / h)
    scale = min(width / w, height / h)
    new_w = max(1, min(width, round(w * scale)))
    new_h = max(1, min(height, round(h * scale)))
    pad_x = (width - new_w) // 2
    pad_y = (height - new_h) // 2
    return FrameTransform(
        w, h, scale_x=new_w / w, scale_y=new_h / h, pad_x=float(pad_x), pad_y=float(pad_y)
    )
