"""The model's preprocessing, as its ``environment.json`` declares it."""

from __future__ import annotations

import numpy as np

from serve_app.messages import PreprocessedImage
from serve_app.preprocessing.transforms import ResizeMode, resize_to_input
from serve_app.weights.package import ModelPackage


def prepare_image(image_bgr: np.ndarray, package: ModelPackage) -> PreprocessedImage:
    """BGR image as decoded → RGB uint8 at the network's input size."""
    rgb = image_bgr[:, :, ::-1]
    resize = package.preprocessing.resize
    mode = resize.mode if resize is not None else ResizeMode.STRETCH
    pixels, frame = resize_to_input(rgb, package.input_width, package.input_height, mode)
    return PreprocessedImage(pixels=np.ascontiguousarray(pixels), frame=frame)
