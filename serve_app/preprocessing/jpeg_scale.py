"""Which of libjpeg's reduced scales a JPEG is decoded at: light (OpenCV only), so the
GPU check times the same choice the server makes."""

from __future__ import annotations

import cv2

# libjpeg's scales, coarsest first, and OpenCV's flag for each.
_JPEG_SCALES = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def reduced_scale(width: int, height: int, at_least: tuple[int, int]) -> tuple[int, int] | None:
    """The coarsest scale at which a ``width`` x ``height`` image still has ``at_least``
    (width, height) pixels, and OpenCV's decode flag for it; None where none does."""
    for scale, flag in _JPEG_SCALES:
        if width >= scale * at_least[0] and height >= scale * at_least[1]:
            return scale, flag
    return None
