"""Request fields → the options the stages take."""

from __future__ import annotations

from pydantic import BaseModel

from serve_app.api.schemas import BaseInferenceRequest, InferenceImage, PreprocessingSwitches
from serve_app.core.requests import (
    ImagePayload,
    ImageType,
    InferenceParams,
    PreprocessOptions,
    VisualizationStyle,
)
from serve_app.errors import InvalidRequestError

# Request fields that InferenceParams has under the same name; a task's request has some.
_PARAM_FIELDS = (
    "confidence",
    "iou_threshold",
    "class_agnostic_nms",
    "max_detections",
    "mask_decode_mode",
    "tradeoff_factor",
    "keypoint_confidence",
)


def preprocess_options(switches: PreprocessingSwitches) -> PreprocessOptions:
    return PreprocessOptions(
        disable_auto_orient=switches.disable_preproc_auto_orient,
        disable_contrast=switches.disable_preproc_contrast,
        disable_grayscale=switches.disable_preproc_grayscale,
        disable_static_crop=switches.disable_preproc_static_crop,
    )


def visualization_style(request: BaseInferenceRequest) -> VisualizationStyle | None:
    """How to draw predictions, or None where the request does not ask for a drawing."""
    if not request.visualize_predictions:
        return None
    return VisualizationStyle(
        labels=request.visualization_labels, stroke_width=request.visualization_stroke_width
    )


def inference_params(request: BaseModel) -> InferenceParams:
    """The post-processing options of a task's request (the fields its task has)."""
    fields = type(request).model_fields
    options = {name: getattr(request, name) for name in _PARAM_FIELDS if name in fields}
    class_filter: list[str] | None = getattr(request, "class_filter", None)
    return InferenceParams(
        **options, class_filter=None if class_filter is None else tuple(class_filter)
    )


def image_payloads(image: InferenceImage | list[InferenceImage]) -> tuple[ImagePayload, ...]:
    """The request's images, in order; a list must hold at least one."""
    images = image if isinstance(image, list) else [image]
    if not images:
        raise InvalidRequestError("The image list is empty: send at least one image")
    return tuple(ImagePayload(ImageType(i.type), i.value) for i in images)
