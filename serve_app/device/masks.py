"""Instance masks from YOLO prototypes on the device, as ``decoders/masks.py`` does
on CPU. The masks are computed, resized, cut to their boxes and thresholded on the
device; one bit-mask transfer per image brings them back, where OpenCV traces the
outlines (torch has no contour tracing)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from serve_app.decoders.masks import MASK_THRESHOLD, box_span, mask_scale, mask_to_polygon


def polygons_on_device(
    coefficients: torch.Tensor,
    prototypes: torch.Tensor,
    xyxy: torch.Tensor,
    resolution: tuple[int, int],
    input_size: tuple[int, int],
) -> list[np.ndarray]:
    """One outline per instance, in network-input pixels: ``instance_polygons``'s
    answer. ``coefficients`` [D, K], ``prototypes`` [K, h, w], ``xyxy`` [D, 4]."""
    if len(coefficients) == 0:
        return []
    k, proto_h, proto_w = prototypes.shape
    logits = coefficients.float() @ prototypes.float().reshape(k, proto_h * proto_w)
    probability = torch.sigmoid(logits).reshape(-1, 1, proto_h, proto_w)
    width, height = resolution
    if (width, height) != (proto_w, proto_h):
        probability = F.interpolate(
            probability, size=(height, width), mode="bilinear", align_corners=False
        )
    scale = mask_scale(resolution, input_size)
    masks = (probability[:, 0] > MASK_THRESHOLD).cpu().numpy()
    polygons = []
    for mask, box in zip(masks, xyxy.float().cpu().numpy(), strict=True):
        x1, y1, x2, y2 = box_span(box, scale, resolution)
        outline = mask_to_polygon(mask[y1:y2, x1:x2]) + np.array([x1, y1], dtype=np.float32)
        polygons.append(outline / scale)
    return polygons
