"""Mask decoding from prototypes and mask → polygon, on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from serve_app.core.requests import InferenceParams, MaskDecodeMode
from serve_app.decoders.masks import instance_polygons, mask_resolution, mask_to_polygon

PROTO_SIZE, INPUT_SIZE = (80, 64), (320, 256)


@pytest.mark.parametrize(
    ("mode", "factor", "expected"),
    [
        (MaskDecodeMode.ACCURATE, 0.0, (320, 256)),
        (MaskDecodeMode.FAST, 1.0, (80, 64)),  # the factor only matters in tradeoff
        (MaskDecodeMode.TRADEOFF, 0.0, (80, 64)),
        (MaskDecodeMode.TRADEOFF, 0.5, (200, 160)),
        (MaskDecodeMode.TRADEOFF, 1.0, (320, 256)),
    ],
)
def test_mask_resolution_interpolates_between_prototypes_and_input(
    mode: MaskDecodeMode, factor: float, expected: tuple[int, int]
) -> None:
    params = InferenceParams(mask_decode_mode=mode, tradeoff_factor=factor)
    assert mask_resolution(params, PROTO_SIZE, INPUT_SIZE) == expected


def mask(shape: tuple[int, int], *regions: tuple[slice, slice]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for rows, cols in regions:
        out[rows, cols] = True
    return out


@pytest.mark.parametrize(
    ("m", "bounds"),
    [
        (mask((8, 8), (slice(4, 5), slice(3, 4))), (3.5, 4.5, 3.5, 4.5)),  # one pixel
        (mask((8, 8), (slice(2, 5), slice(1, 6))), (1.5, 2.5, 5.5, 4.5)),  # rows 2-4, cols 1-5
        (mask((8, 8), (slice(0, 8), slice(0, 8))), (0.5, 0.5, 7.5, 7.5)),  # touches the edges
        # Of two regions, the larger: a 2x2 block beats a lone pixel.
        (
            mask((8, 8), (slice(0, 1), slice(0, 1)), (slice(5, 7), slice(5, 7))),
            (5.5, 5.5, 6.5, 6.5),
        ),
        # A one-pixel-wide line (zero area) still beats a lone pixel by its length.
        (
            mask((8, 8), (slice(0, 1), slice(7, 8)), (slice(3, 4), slice(1, 6))),
            (1.5, 3.5, 5.5, 3.5),
        ),
    ],
    ids=["pixel", "rectangle", "full", "largest region", "line"],
)
def test_mask_to_polygon_outlines_the_largest_region_through_pixel_centres(
    m: np.ndarray, bounds: tuple[float, ...]
) -> None:
    polygon = mask_to_polygon(m)
    assert polygon.dtype == np.float32 and polygon.shape[1] == 2
    assert (*polygon.min(axis=0), *polygon.max(axis=0)) == bounds


def test_empty_mask_has_an_empty_polygon() -> None:
    assert mask_to_polygon(np.zeros((4, 4), dtype=bool)).shape == (0, 2)
    assert mask_to_polygon(np.zeros((0, 5), dtype=bool)).shape == (0, 2)


# One prototype, 10 x 10 cells of a 40 x 40 input: +10 on cells rows 2-5, cols 3-7.
PROTOTYPES = np.full((1, 10, 10), -10.0, np.float32)
PROTOTYPES[0, 2:6, 3:8] = 10.0
ONE = np.ones((1, 1), np.float32)
FAST = ((10, 10), (40, 40))  # resolution, input size


def outlines(boxes: list[tuple[float, ...]], coefficients: np.ndarray | None = None) -> list:
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    coefficients = np.ones((len(xyxy), 1), np.float32) if coefficients is None else coefficients
    return instance_polygons(coefficients, PROTOTYPES, xyxy, *FAST)


def test_fast_mode_outline_is_the_prototype_region_in_input_pixels() -> None:
    (polygon,) = outlines([(0, 0, 40, 40)])
    # Cells 3..7 and 2..5, at their centres (i + 0.5) × 4.
    assert (*polygon.min(axis=0), *polygon.max(axis=0)) == (14, 10, 30, 22)


def test_outline_is_cut_to_the_box() -> None:
    # Cell centres lie at x = 2, 6, 10, ...: from x = 19 the box holds columns 5 onwards.
    (polygon,) = outlines([(19, 0, 40, 40)])
    assert polygon[:, 0].min() == 22


@pytest.mark.parametrize(
    "box",
    [(20, 20, 20, 30), (20, 20, 21, 21), (0, 30, 40, 40), (-30, -30, -5, -5)],
    ids=["zero width", "between cell centres", "outside the mask", "outside the image"],
)
def test_boxes_holding_no_mask_pixel_have_empty_outlines(box: tuple[float, ...]) -> None:
    (polygon,) = outlines([box])
    assert polygon.shape == (0, 2)


def test_each_instance_uses_its_own_coefficients() -> None:
    # A negative coefficient flips the prototype: that mask is everything but the region.
    first, second = outlines([(0, 0, 40, 40)] * 2, np.array([[1.0], [-1.0]], np.float32))
    assert len(first) == 4 and (*second.min(axis=0), *second.max(axis=0)) == (2, 2, 38, 38)


def test_no_instances_no_outlines() -> None:
    assert outlines([]) == []
