"""Instance masks from YOLO prototypes or per-query mask logits, and masks → polygons.

A YOLO segmentation head gives each candidate K mask coefficients and the image K
prototype maps at a quarter of the input size; an instance's mask is
``sigmoid(coefficients · prototypes)``, resized to the decoding resolution, kept inside
the instance's box and thresholded at 0.5. An RF-DETR head gives each query its own
mask logits over the whole input, which are not cut to the box.
"""

from __future__ import annotations

import cv2
import numpy as np

from serve_app.core.requests import InferenceParams, MaskDecodeMode

MASK_THRESHOLD = 0.5

# Where each mode sits between prototype size (0) and network-input size (1); "tradeoff"
# sits where the request's tradeoff_factor says.
_MODE_FACTOR = {MaskDecodeMode.FAST: 0.0, MaskDecodeMode.ACCURATE: 1.0}


def mask_resolution(
    params: InferenceParams, prototype_size: tuple[int, int], input_size: tuple[int, int]
) -> tuple[int, int]:
    """(width, height) to decode masks at, between prototype and input size."""
    factor = _MODE_FACTOR.get(params.mask_decode_mode, params.tradeoff_factor)
    return (
        round(prototype_size[0] + factor * (input_size[0] - prototype_size[0])),
        round(prototype_size[1] + factor * (input_size[1] - prototype_size[1])),
    )


def instance_polygons(
    coefficients: np.ndarray,
    prototypes: np.ndarray,
    xyxy: np.ndarray,
    resolution: tuple[int, int],
    input_size: tuple[int, int],
) -> list[np.ndarray]:
    """One outline per instance of a prototype head, in network-input pixels.

    ``coefficients`` [D, K] and ``prototypes`` [K, h, w] float32; ``xyxy`` [D, 4] boxes in
    network-input pixels, which each mask is cut to; ``resolution`` and ``input_size``
    are (width, height). Each outline is a [P, 2] float32 array of (x, y), [0, 2] where
    the mask is empty.
    """
    k, proto_h, proto_w = prototypes.shape
    logits = coefficients.astype(np.float32) @ prototypes.reshape(k, proto_h * proto_w)
    probabilities = sigmoid(logits).reshape(-1, proto_h, proto_w)
    return mask_polygons(probabilities, resolution, input_size, xyxy)


def mask_polygons(
    probabilities: np.ndarray,
    resolution: tuple[int, int],
    input_size: tuple[int, int],
    xyxy: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Outlines, in network-input pixels, of [D, h, w] float32 mask probabilities that
    span the network input: each resized to ``resolution`` (width, height), cut to its
    box of ``xyxy`` [D, 4] (network-input pixels) if given, and thresholded."""
    width, height = resolution
    scale = mask_scale(resolution, input_size)
    polygons = []
    for i, probability in enumerate(probabilities):
        if (width, height) != probability.shape[::-1]:
            probability = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        whole = (0, 0, width, height)
        x1, y1, x2, y2 = whole if xyxy is None else box_span(xyxy[i], scale, resolution)
        inside = probability[y1:y2, x1:x2] > MASK_THRESHOLD
        outline = mask_to_polygon(inside) + np.array([x1, y1], dtype=np.float32)
        polygons.append(outline / scale)
    return polygons


def mask_scale(resolution: tuple[int, int], input_size: tuple[int, int]) -> np.ndarray:
    """Mask pixels per network-input pixel, on each axis (float32 [2])."""
    return np.array(
        [resolution[0] / input_size[0], resolution[1] / input_size[1]], dtype=np.float32
    )


def box_span(
    box: np.ndarray, scale: np.ndarray, resolution: tuple[int, int]
) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 of the mask pixels whose centre lies inside ``box`` (x1, y1, x2,
    y2 float32 in network-input pixels): columns x1..x2-1, rows y1..y2-1."""
    width, height = resolution
    x1, x2 = np.clip(np.ceil(box[[0, 2]] * scale[0] - 0.5), 0, width).astype(int)
    y1, y2 = np.clip(np.ceil(box[[1, 3]] * scale[1] - 0.5), 0, height).astype(int)
    return int(x1), int(y1), int(x2), int(y2)


def mask_to_polygon(mask: np.ndarray) -> np.ndarray:
    """Outline of the largest region of a bool [H, W] mask, as [P, 2] float32 (x, y).

    Points are the centres of the region's boundary pixels, in the mask's pixel frame
    (pixel (i, j) spans x in [j, j + 1)); [0, 2] for an empty mask.
    """
    if not mask.any():
        return np.empty((0, 2), dtype=np.float32)
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    # By area, then by length, so a lone line of pixels still beats a lone pixel.
    largest = max(contours, key=lambda c: (cv2.contourArea(c), len(c)))
    return largest.reshape(-1, 2).astype(np.float32) + 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Clipped so that very negative logits give 0 without an overflow warning.
    return (1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))).astype(np.float32)
