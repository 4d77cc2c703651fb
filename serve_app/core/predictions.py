"""What a model answers for each image, in original-image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from serve_app.core.ids import Task


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
    keypoints: list[np.ndarray] | None = field(default=None)
    """For keypoint models, per detection a [P, 4] float32 array of its keypoints that
    its class names and that pass the request's keypoint confidence: x, y in
    original-image pixels, confidence, keypoint index (into ``keypoint_names``)."""
    keypoint_names: tuple[tuple[str, ...], ...] = ()
    """For keypoint models, per class id, its keypoints' names by index."""

    def __len__(self) -> int:
        return len(self.confidence)


@dataclass(frozen=True)
class Classification:
    """Class scores of one image."""

    scores: np.ndarray
    """[C] float32 per class id, as the package declares them
    (:class:`~serve_app.core.spec.ClassificationActivation`)."""
    predicted: np.ndarray
    """[K] int64 ids of the classes that pass the request's threshold, best first."""
    class_names: tuple[str, ...]
    multilabel: bool
    image_width: int
    image_height: int


Prediction = Detections | Classification
"""What a model replica answers for one image."""


@dataclass(frozen=True)
class ImageResult:
    prediction: Prediction
    visualization: bytes | None = field(default=None, repr=False)
    """JPEG of the client's image with the predictions drawn, when asked for."""


@dataclass(frozen=True)
class RequestResult:
    """The answer to one :class:`~serve_app.core.requests.InferenceRequest`."""

    task: Task
    """The model's task, which shapes the response."""
    images: tuple[ImageResult, ...]
    """One per image of the request, in its order."""
