"""Crop and colour steps, as pure functions: tables of edge cases with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from serve_app.core.spec import ContrastType, CropBox
from serve_app.errors import InvalidImageError
from serve_app.preprocessing.steps import (
    adjust_contrast,
    equalize_adaptive,
    equalize_histogram,
    stretch_contrast,
    take_static_crop,
    to_grayscale,
)


def bgr(*pixels: tuple[int, int, int]) -> np.ndarray:
    """A 1xN BGR image of ``pixels``."""
    return np.array([pixels], dtype=np.uint8)


@pytest.mark.parametrize(
    ("box", "size", "expected"),
    [
        (CropBox(25, 50, 75, 100), (800, 400), (200, 200, 600, 400)),
        (CropBox(0, 0, 100, 100), (7, 5), (0, 0, 7, 5)),
        # Truncated toward zero, as Roboflow's int(): 33.3 % of 10 is 3.33 → 3.
        (CropBox(33.3, 33.3, 66.7, 66.7), (10, 10), (3, 3, 6, 6)),
        # Out-of-range percentages are clamped to the image.
        (CropBox(-10, -5, 120, 150), (40, 30), (0, 0, 40, 30)),
    ],
)
def test_crop_box_to_pixels(
    box: CropBox, size: tuple[int, int], expected: tuple[int, int, int, int]
) -> None:
    assert box.to_pixels(*size) == expected


def test_static_crop_is_the_region_and_its_offset() -> None:
    image = np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3)
    region, offset = take_static_crop(image, CropBox(20, 25, 70, 100))
    assert offset == (2, 2)
    np.testing.assert_array_equal(region, image[2:8, 2:7])


@pytest.mark.parametrize(
    ("box", "size"),
    [
        (CropBox(50, 0, 50, 100), (100, 100)),  # zero width
        (CropBox(0, 80, 100, 20), (100, 100)),  # inverted
        (CropBox(25, 25, 75, 75), (1, 1)),  # rounds to nothing on a tiny image
    ],
)
def test_static_crop_with_no_pixels_is_refused(box: CropBox, size: tuple[int, int]) -> None:
    with pytest.raises(InvalidImageError, match="no pixels"):
        take_static_crop(np.zeros((size[1], size[0], 3), np.uint8), box)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        # Band 0..150 over all channels (two thirds are 0): 100 → 170, 150 → 255.
        (bgr((0, 0, 100), (0, 0, 150), (0, 0, 100), (0, 0, 150)), [170, 255, 170, 255]),
        # A constant image has an empty band: left unchanged.
        (bgr((90, 90, 90), (90, 90, 90)), [90, 90]),
    ],
)
def test_stretch_contrast_maps_the_percentile_band_onto_the_full_range(
    image: np.ndarray, expected: list[int]
) -> None:
    out = stretch_contrast(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out[0, :, 2].tolist() == expected


def test_stretch_contrast_saturates_outside_the_band_and_truncates() -> None:
    ramp = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3)
    out = stretch_contrast(ramp)[..., 0].ravel()
    # 2nd and 98th percentiles of 0..255 (each thrice) are 5 and 250.
    assert out[[0, 5, 250, 255]].tolist() == [0, 0, 255, 255]
    assert out[6] == int((6 - 5) / 245 * 255)  # 1.04 → 1
    assert np.all(np.diff(out.astype(int)) >= 0)


@pytest.mark.parametrize(
    ("image", "expected_gray"),
    [
        # Two grey levels, half each: the lower goes to 0, the higher to 255.
        (bgr((50, 50, 50), (100, 100, 100)), [0, 255]),
        # A single level has nothing to spread.
        (bgr((77, 77, 77), (77, 77, 77)), [77, 77]),
        # Colour is converted to grey first (pure red is grey 76).
        (bgr((0, 0, 255), (0, 0, 0)), [255, 0]),
    ],
)
def test_histogram_equalization_on_grey(image: np.ndarray, expected_gray: list[int]) -> None:
    out = equalize_histogram(image)
    assert out[0, :, 0].tolist() == expected_gray
    assert (out == out[..., :1]).all(), "three equal channels"


def test_adaptive_equalization_uses_roboflow_clahe_settings() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Roboflow: cv2.createCLAHE(clipLimit=0.03, tileGridSize=(8, 8)) on the grey image.
    reference = cv2.createCLAHE(clipLimit=0.03, tileGridSize=(8, 8)).apply(gray)
    out = equalize_adaptive(image)
    assert out.shape == image.shape and (out == out[..., :1]).all()
    np.testing.assert_array_equal(out[..., 0], reference)


@pytest.mark.parametrize(
    ("pixel", "gray"),
    [
        ((0, 0, 255), 76),
        ((255, 0, 0), 29),
        ((0, 255, 0), 150),
        ((255, 255, 255), 255),
        ((0, 0, 0), 0),
    ],
)
def test_grayscale_keeps_three_channels(pixel: tuple[int, int, int], gray: int) -> None:
    assert to_grayscale(bgr(pixel)).tolist() == [[[gray] * 3]]


def test_adjust_contrast_dispatches_every_type() -> None:
    image = bgr((10, 20, 30), (200, 100, 50))
    for kind in ContrastType:
        assert adjust_contrast(image, kind).shape == image.shape
