"""Request fields → the options the stages take."""

from __future__ import annotations

from typing import Any

from serve_app.api.schemas import InferenceImage, ObjectDetectionRequest, PreprocessingSwitches
from serve_app.core.requests import (
    ImagePayload,
    ImageType,
    PreprocessOptions,
    VisualizationStyle,
)


def preprocess_options(switches: PreprocessingSwitches) -> PreprocessOptions:
    return PreprocessOptions(
        disable_auto_orient=switches.disable_preproc_auto_orient,
        disable_contrast=switches.disable_preproc_contrast,
        disable_grayscale=switches.disable_preproc_grayscale,
        disable_static_crop=switches.disable_preproc_static_crop,
    )


def visualization_style(request: ObjectDetectionRequest) -> VisualizationStyle | None:
    """How to draw predictions, or None where the request does not ask for a drawing."""
    if not request.visualize_predictions:
        return None
    return VisualizationStyle(
        labels=request.visualization_labels, stroke_width=request.visualization_stroke_width
    )


def box_options(request: ObjectDetectionRequest) -> dict[str, Any]:
    """The box fields of :class:`InferenceParams` from a detection or segmentation request."""
    return {
        "confidence": request.confidence,
        "iou_threshold": request.iou_threshold,
        "class_agnostic_nms": request.class_agnostic_nms,
        "class_filter": None if request.class_filter is None else tuple(request.class_filter),
        "max_detections": request.max_detections,
    }


def image_payloads(image: InferenceImage | list[InferenceImage]) -> tuple[ImagePayload, ...]:
    images = image if isinstance(image, list) else [image]
    return tuple(ImagePayload(ImageType(i.type), i.value) for i in images)
