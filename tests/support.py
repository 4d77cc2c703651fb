"""Helpers shared by tests: image encoding and request bodies."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np


def jpeg_b64(image_bgr: np.ndarray, quality: int = 95) -> str:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def png_b64(image_bgr: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", image_bgr)
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def npy_b64(array: np.ndarray) -> str:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return base64.b64encode(out.getvalue()).decode()


def solid_image(width: int, height: int, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.full((height, width, 3), bgr, dtype=np.uint8)


def b64_image(image_bgr: np.ndarray) -> dict[str, str]:
    """A lossless base64 request image, so colour means survive exactly."""
    return {"type": "base64", "value": png_b64(image_bgr)}


def box_of(prediction: dict[str, float]) -> tuple[float, float, float, float]:
    """x1, y1, x2, y2 of a Roboflow prediction (which gives the centre and size)."""
    x, y, w, h = prediction["x"], prediction["y"], prediction["width"], prediction["height"]
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2
