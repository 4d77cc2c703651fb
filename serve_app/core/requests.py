"""What a request asks for, in the form that crosses deployment hops.

Plain frozen dataclasses of strings, bytes and NumPy arrays: cheap to serialise, free of
wire types (the ingress alone speaks JSON). Images cross to the model replica as one
uint8 array per batch at network-input size, the cheapest form there is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.ids import Task


class ImageType(str, Enum):
    BASE64 = "base64"
    URL = "url"
    NUMPY = "numpy"
    BYTES = "bytes"
    """Raw file bytes, as a multipart upload carries them."""


@dataclass(frozen=True)
class ImagePayload:
    type: ImageType
    value: str | bytes = field(repr=False)


@dataclass(frozen=True)
class PreprocessOptions:
    """Switches that turn off, for one request, steps the model's ``environment.json``
    enables (Roboflow's ``disable_preproc_*`` request fields). They never turn a step on."""

    disable_auto_orient: bool = False
    disable_contrast: bool = False
    disable_grayscale: bool = False
    disable_static_crop: bool = False


@dataclass(frozen=True)
class VisualizationStyle:
    """How predictions are drawn on the image sent back to the client."""

    labels: bool = False
    """Write each prediction's class and confidence above its box."""
    stroke_width: int = 1
    """Line width of boxes and outlines, in original-image pixels."""


class MaskDecodeMode(str, Enum):
    """Resolution masks are decoded at, as Roboflow's ``mask_decode_mode`` names it."""

    ACCURATE = "accurate"
    """Network-input size."""
    FAST = "fast"
    """Prototype size (a quarter of the input on YOLO heads)."""
    TRADEOFF = "tradeoff"
    """In between, by ``tradeoff_factor``: 0 is fast, 1 is accurate."""


@dataclass(frozen=True)
class InferenceParams:
    """Post-processing options of one request; each task reads the fields it has."""

    confidence: float = 0.4
    """Detections and classes scoring below are not reported (at or below, for
    multi-label classes)."""
    iou_threshold: float = 0.3
    class_agnostic_nms: bool = False
    class_filter: tuple[str, ...] | None = None
    max_detections: int = 300
    mask_decode_mode: MaskDecodeMode = MaskDecodeMode.ACCURATE
    tradeoff_factor: float = 0.0
    keypoint_confidence: float = 0.0
    """Keypoints scoring below are not reported (their object still is)."""


@dataclass(frozen=True)
class InferenceRequest:
    """One client request for one model: its images, in order, and how to treat them."""

    images: tuple[ImagePayload, ...]
    params: InferenceParams = InferenceParams()
    options: PreprocessOptions = PreprocessOptions()
    visualization: VisualizationStyle | None = None
    """Draw the predictions on each image too, in this style."""
    request_id: str = ""


@dataclass(frozen=True)
class RequestGroup:
    """Requests for one model that travel a hop as one call."""

    model_id: str
    task: Task | None
    """The task every request asks for; None serves whatever the model does."""
    requests: tuple[InferenceRequest, ...]
    api_key: str | None = field(default=None, repr=False)
    """For fetching the model where it is not cached yet; never logged."""

    @property
    def image_count(self) -> int:
        return sum(len(request.images) for request in self.requests)


@dataclass(frozen=True)
class ImageBatch:
    """Network inputs of images of one model, handed to the model replica at once."""

    pixels: np.ndarray
    """[B, H, W, 3] uint8, RGB, at the network's input size."""
    frames: tuple[FrameTransform, ...]
    """Per image, the map back to the image its client sent."""
    params: tuple[InferenceParams, ...]
    """Per image, its request's options."""

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def concat(cls, batches: Sequence[ImageBatch]) -> ImageBatch:
        """One batch of every image of ``batches``, in order."""
        if len(batches) == 1:
            return batches[0]
        return cls(
            np.concatenate([b.pixels for b in batches]),
            tuple(frame for b in batches for frame in b.frames),
            tuple(params for b in batches for params in b.params),
        )

    def chunks(self, size: int) -> Iterator[ImageBatch]:
        """Consecutive batches of at most ``size`` images."""
        for start in range(0, len(self), size):
            stop = start + size
            yield ImageBatch(
                self.pixels[start:stop], self.frames[start:stop], self.params[start:stop]
            )
