"""Small dataclasses that cross deployment boundaries.

They hold NumPy arrays, never wire types: the ingress alone speaks JSON. Images
travel as uint8 at network-input size, the cheapest form to serialise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

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


class MaskDecodeMode(str, Enum):
    """Resolution masks are decoded at, as Roboflow's ``mask_decode_mode`` names it."""

    ACCURATE = "accurate"
    """Network-input size."""
    FAST = "fast"
    """Prototype size (a quarter of the input on YOLO heads)."""
    TRADEOFF = "tradeoff"
    """In between, by ``tradeoff_factor``: 0 is fast, 1 is accurate."""


@dataclass(frozen=True)
class SegmentationParams(DecodeParams):
    """Box options of detection, plus how to decode instance masks."""

    mask_decode_mode: MaskDecodeMode = MaskDecodeMode.ACCURATE
    tradeoff_factor: float = 0.0


@dataclass(frozen=True)
class ClassificationParams:
    confidence: float = 0.4
    """Classes scoring below are not reported (above, for multi-label models)."""


TaskParams = DecodeParams | ClassificationParams
"""Options of a request for any task; segmentation options are a :class:`DecodeParams`."""


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
    """For segmentation models, per detection a [K, 2] float32 outline (x, y) in
    original-image pixels: the largest contour of its mask, [0, 2] if the mask is empty."""

    def __len__(self) -> int:
        return len(self.confidence)


@dataclass(frozen=True)
class Classification:
    """Class scores of one image."""

    scores: np.ndarray
    """[C] float32 per class id: softmax over the logits, or a sigmoid each for
    multi-label models."""
    predicted: np.ndarray
    """[K] int64 ids of the classes that pass the request's threshold, best first."""
    class_names: tuple[str, ...]
    multilabel: bool
    image_width: int
    image_height: int


Prediction = Detections | Classification
"""What a model replica answers for one image."""
