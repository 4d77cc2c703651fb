"""Predictions drawn on the client's image: pure functions on HxWx3 uint8 BGR arrays.

Coordinates are original-image pixels, as :class:`Detections` holds them. Detections
get their boxes, outlines and keypoints drawn; a classification gets a frame in its
best class's colour and a tag per class it reports, best first. Each class
has one colour: the model's ``COLORS`` from ``environment.json`` where it names the
class, otherwise a fixed palette indexed by class id, so colours are stable across
requests.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from serve_app.core.predictions import Classification, Detections
from serve_app.core.requests import VisualizationStyle

BGR = tuple[int, int, int]

# Distinct, saturated colours (hex RGB) that read on photos and on each other.
PALETTE: tuple[str, ...] = (
    "#FF3838", "#2C99A8", "#FF9D97", "#FF701F", "#FFB21D", "#CFD231", "#48F90A",
    "#92CC17", "#3DDB86", "#1A9334", "#00D4BB", "#00C2FF", "#344593", "#6473FF",
    "#0018EC", "#8438FF", "#520085", "#CB38FF", "#FF95C8", "#FF37C7",
)  # fmt: skip
JPEG_QUALITY = 90
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.5
_LABEL_PAD = 4


def hex_to_bgr(color: str) -> BGR:
    """``"#RRGGBB"`` (the ``#`` optional) → (B, G, R)."""
    digits = color.strip().lstrip("#")
    if len(digits) != 6:
        raise ValueError(f"not a #RRGGBB colour: {color!r}")
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return blue, green, red


def class_colors(class_names: tuple[str, ...], model_colors: Mapping[str, str]) -> list[BGR]:
    """One BGR colour per class id; malformed model colours fall back to the palette."""
    colors = []
    for class_id, name in enumerate(class_names):
        fallback = PALETTE[class_id % len(PALETTE)]
        try:
            colors.append(hex_to_bgr(model_colors.get(name, fallback)))
        except ValueError:
            colors.append(hex_to_bgr(fallback))
    return colors


def draw_detections(
    image_bgr: np.ndarray,
    detections: Detections,
    colors: list[BGR],
    style: VisualizationStyle,
) -> np.ndarray:
    """A copy of ``image_bgr`` with each detection's box, outline (segmentation
    models), keypoints (keypoint models) and, if ``style.labels``, its class and
    confidence drawn in its colour."""
    canvas = image_bgr.copy()
    thickness = max(1, style.stroke_width)
    boxes = np.rint(detections.xyxy).astype(np.int32)
    nothing: list[np.ndarray | None] = [None] * len(detections)
    polygons = detections.polygons if detections.polygons is not None else nothing
    keypoints = detections.keypoints if detections.keypoints is not None else nothing
    for (x1, y1, x2, y2), class_id, polygon, points in zip(
        boxes.tolist(), detections.class_id.tolist(), polygons, keypoints, strict=True
    ):
        color = colors[class_id]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        if polygon is not None and len(polygon) > 2:
            outline = np.rint(polygon).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [outline], isClosed=True, color=color, thickness=thickness)
        for x, y in np.rint(points[:, :2]).astype(int).tolist() if points is not None else []:
            cv2.circle(canvas, (x, y), thickness + 2, color, cv2.FILLED)
    if style.labels:
        for (x1, y1, _, _), class_id, confidence in zip(
            boxes.tolist(),
            detections.class_id.tolist(),
            detections.confidence.tolist(),
            strict=True,
        ):
            text = f"{detections.class_names[class_id]} {confidence:.2f}"
            draw_label(canvas, text, (x1, y1), colors[class_id])
    return canvas


def draw_classification(
    image_bgr: np.ndarray,
    classification: Classification,
    colors: list[BGR],
    style: VisualizationStyle,
) -> np.ndarray:
    """A copy of ``image_bgr`` framed in the best class's colour, with a tag for each
    class reported (a single-label model's best class even when it scores below the
    request's threshold), best first, down the top-left corner."""
    canvas = image_bgr.copy()
    scores = classification.scores
    shown = classification.predicted.tolist() or [int(np.argmax(scores))]
    height, width = canvas.shape[:2]
    cv2.rectangle(canvas, (0, 0), (width - 1, height - 1), colors[shown[0]], style.stroke_width)
    top = 0
    for class_id in shown:
        text = f"{classification.class_names[class_id]} {scores[class_id]:.2f}"
        top = draw_label(canvas, text, (0, top), colors[class_id], below=True)
    return canvas


def draw_label(
    canvas: np.ndarray, text: str, anchor: tuple[int, int], color: BGR, below: bool = False
) -> int:
    """Write ``text`` on a filled tag of ``color`` whose bottom-left is ``anchor``
    (a box's top-left corner), or whose top-left it is if ``below``, moved inside the
    image where it would leave it; returns the row just below the tag."""
    (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
    tag_w, tag_h = text_w + 2 * _LABEL_PAD, text_h + baseline + 2 * _LABEL_PAD
    height, width = canvas.shape[:2]
    left = min(max(anchor[0], 0), max(width - tag_w, 0))
    fits_above = anchor[1] - tag_h >= 0 and not below
    top = anchor[1] - tag_h if fits_above else min(anchor[1], max(height - tag_h, 0))
    cv2.rectangle(canvas, (left, top), (left + tag_w, top + tag_h), color, cv2.FILLED)
    cv2.putText(
        canvas,
        text,
        (left + _LABEL_PAD, top + _LABEL_PAD + text_h),
        _FONT,
        _FONT_SCALE,
        _text_color(color),
        1,
        cv2.LINE_AA,
    )
    return top + tag_h


def encode_jpeg(image_bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    return buffer.tobytes()


def _text_color(background: BGR) -> BGR:
    """Black on light tags, white on dark ones (ITU-R 601 luma)."""
    blue, green, red = background
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else (255, 255, 255)
