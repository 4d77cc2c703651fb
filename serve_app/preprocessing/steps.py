"""The crop and colour steps of Roboflow's preprocessing, which run before the resize.

Images are HxWx3 uint8 arrays in BGR order, as decoded. Each step does what the
Roboflow inference server does for the step of the same name in ``environment.json``
(same percent rounding, percentiles, CLAHE settings and grey conversion), so a model
sees the pixels it was validated on.
"""

from __future__ import annotations

import cv2
import numpy as np

from serve_app.core.spec import ContrastType, CropBox
from serve_app.errors import InvalidImageError

# Roboflow's stretching keeps the 2nd..98th percentile band of intensities.
_STRETCH_PERCENTILES = (2.0, 98.0)
# Roboflow passes scikit-image's clip limit (a fraction) to OpenCV, where it is a
# count per bin; OpenCV then raises it to its floor of one. Kept as is, to match.
_CLAHE_CLIP_LIMIT = 0.03
_CLAHE_TILES = (8, 8)


def take_static_crop(image: np.ndarray, box: CropBox) -> tuple[np.ndarray, tuple[int, int]]:
    """The region ``box`` keeps (a view, no copy) and its top-left corner (x, y) in
    ``image`` pixels, which is what maps predictions back onto the whole image."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box.to_pixels(width, height)
    if x1 <= x0 or y1 <= y0:
        raise InvalidImageError(
            f"The model's static crop leaves no pixels of a {width}x{height} image"
        )
    return image[y0:y1, x0:x1], (x0, y0)


def stretch_contrast(image: np.ndarray) -> np.ndarray:
    """Map the 2nd..98th percentile of all channels' intensities onto 0..255.

    Values outside the band saturate; results are truncated, as scikit-image's
    ``rescale_intensity`` (which Roboflow calls) does. An image whose band is a
    single value is returned unchanged.
    """
    low, high = np.percentile(image, _STRETCH_PERCENTILES)
    if high <= low:
        return image
    # float64 and this order of operations, so truncation lands where Roboflow's does.
    unit = (np.clip(image.astype(np.float64), low, high) - low) / (high - low)
    return (unit * 255).astype(np.uint8)


def equalize_histogram(image: np.ndarray) -> np.ndarray:
    """Global histogram equalisation of the grey image, returned as 3 equal channels."""
    return _gray_to_bgr(cv2.equalizeHist(_bgr_to_gray(image)))


def equalize_adaptive(image: np.ndarray) -> np.ndarray:
    """CLAHE on the grey image, returned as 3 equal channels."""
    clahe = cv2.createCLAHE(clipLimit=_CLAHE_CLIP_LIMIT, tileGridSize=_CLAHE_TILES)
    return _gray_to_bgr(clahe.apply(_bgr_to_gray(image)))


_CONTRAST_STEPS = {
    ContrastType.STRETCHING: stretch_contrast,
    ContrastType.HISTOGRAM_EQUALIZATION: equalize_histogram,
    ContrastType.ADAPTIVE_EQUALIZATION: equalize_adaptive,
}


def adjust_contrast(image: np.ndarray, kind: ContrastType) -> np.ndarray:
    return _CONTRAST_STEPS[kind](image)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """BGR → grey (ITU-R 601 weights) → 3 equal channels, so the network input keeps
    its shape."""
    return _gray_to_bgr(_bgr_to_gray(image))


def _bgr_to_gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _gray_to_bgr(gray: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
