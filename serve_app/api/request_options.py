"""Request fields → the options the preprocessing deployment takes."""

from __future__ import annotations

from serve_app.api.schemas import ObjectDetectionRequest, PreprocessingSwitches
from serve_app.preprocessing.options import PreprocessOptions, VisualizationStyle


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
