"""The model's preprocessing, as its ``environment.json`` declares it.

Roboflow's order: auto-orient (at decode time, see ``image_loading``), static crop,
contrast, grayscale, then the resize to the network's input. Only the crop and the
resize move pixels, and both are recorded in the :class:`FrameTransform` that maps
predictions back onto the image the client sent.
"""

from __future__ import annotations

import numpy as np

from serve_app.errors import ModelLoadError
from serve_app.messages import PreprocessedImage
from serve_app.preprocessing.options import DEFAULT_OPTIONS, PreprocessOptions
from serve_app.preprocessing.steps import (
    ImageSteps,
    adjust_contrast,
    take_static_crop,
    to_grayscale,
)
from serve_app.preprocessing.transforms import ResizeMode, resize_to_input
from serve_app.weights.package import ModelPackage


def should_auto_orient(package: ModelPackage, options: PreprocessOptions) -> bool:
    """EXIF orientation is applied only where the model was trained with it."""
    return package.preprocessing.auto_orient and not options.disable_auto_orient


def steps_for_request(package: ModelPackage, options: PreprocessOptions) -> ImageSteps:
    """The model's crop and colour steps, less those the request turns off."""
    try:
        steps = ImageSteps.from_steps(package.preprocessing.steps)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelLoadError(
            f"Model {package.model_id} has a malformed PREPROCESSING step in "
            f"environment.json: {exc!r}"
        ) from None
    return ImageSteps(
        static_crop=None if options.disable_static_crop else steps.static_crop,
        contrast=None if options.disable_contrast else steps.contrast,
        grayscale=steps.grayscale and not options.disable_grayscale,
    )


def prepare_image(
    image_bgr: np.ndarray, package: ModelPackage, options: PreprocessOptions = DEFAULT_OPTIONS
) -> PreprocessedImage:
    """BGR image as decoded (HxWx3 uint8) → RGB uint8 at the network's input size."""
    steps = steps_for_request(package, options)
    height, width = image_bgr.shape[:2]
    region, (offset_x, offset_y) = image_bgr, (0, 0)
    if steps.static_crop is not None:
        region, (offset_x, offset_y) = take_static_crop(image_bgr, steps.static_crop)
    if steps.contrast is not None:
        region = adjust_contrast(region, steps.contrast)
    if steps.grayscale:
        region = to_grayscale(region)
    resize = package.preprocessing.resize
    mode = resize.mode if resize is not None else ResizeMode.STRETCH
    pixels, frame = resize_to_input(
        region[:, :, ::-1], package.input_width, package.input_height, mode
    )
    if steps.static_crop is not None:
        frame = frame.with_offset(offset_x, offset_y, width, height)
    return PreprocessedImage(pixels=np.ascontiguousarray(pixels), frame=frame)
