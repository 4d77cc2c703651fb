"""Small dataclasses that cross deployment boundaries.

They hold NumPy arrays, never wire types: the ingress alone speaks JSON. Images
travel as uint8 at network-input size, the cheapest form to serialise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from serve_app.preprocessing.transforms import FrameTransform


@dataclass(frozen=True)
class PreprocessedImage:
    pixels: np.ndarray
    """HxWx3 uint8, RGB, already at the network's input size."""
    frame: FrameTransform
    """Maps network-input pixels back to the image the client sent."""


@dataclass(frozen=True)
class DecodeParams:
    """Per-request post-processing options."""

    confidence: float = 0.4
    iou_threshold: float = 0.3
    class_agnostic_nms: bool = False
    class_filter: tuple[str, ...] | None = None
    max_detections: int = 300


@dataclass(frozen=True)
class Detections:
    """Detections of one image, in original-image pixels, best first."""

    xyxy: np.ndarray
    """[N, 4] float32: x1, y1, x2, y2."""
    confidence: np.ndarray
    """[N] float32."""
    class_id: np.ndarray
    """[N] int64."""
    class_names: tuple[str, ...]
    """Names of every class of the model, indexed by class id."""
    image_width: int
    image_height: int
    polygons: list[np.ndarray] | None = field(default=None)
    """Per detection, a [K, 2] float32 outline, for segmentation models."""

    def __len__(self) -> int:
        return len(self.confidence)
