"""Drawing predictions: colours per class, boxes, outlines and labels, JPEG encoding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from serve_app.core.predictions import Detections
from serve_app.core.requests import VisualizationStyle
from serve_app.preprocessing.visualization import (
    PALETTE,
    class_colors,
    draw_detections,
    encode_jpeg,
    hex_to_bgr,
)

GREY = (128, 128, 128)


def detections(
    boxes: list[tuple[float, float, float, float]],
    class_ids: list[int],
    polygons: list[np.ndarray] | None = None,
) -> Detections:
    return Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        confidence=np.full(len(boxes), 0.9, np.float32),
        class_id=np.array(class_ids, np.int64),
        class_names=("cat", "dog"),
        image_width=100,
        image_height=80,
        polygons=polygons,
    )


@pytest.mark.parametrize(
    ("color", "expected"),
    [("#FF0000", (0, 0, 255)), ("00ff80", (128, 255, 0)), (" #0000FF ", (255, 0, 0))],
)
def test_hex_to_bgr(color: str, expected: tuple[int, int, int]) -> None:
    assert hex_to_bgr(color) == expected


@pytest.mark.parametrize("color", ["#FFF", "#GG0000", "red", ""])
def test_hex_to_bgr_refuses_non_hex(color: str) -> None:
    with pytest.raises(ValueError):
        hex_to_bgr(color)


@pytest.mark.parametrize(
    ("model_colors", "expected"),
    [
        ({}, [hex_to_bgr(PALETTE[0]), hex_to_bgr(PALETTE[1])]),
        ({"dog": "#00FF00"}, [hex_to_bgr(PALETTE[0]), (0, 255, 0)]),
        ({"cat": "not a colour"}, [hex_to_bgr(PALETTE[0]), hex_to_bgr(PALETTE[1])]),
    ],
)
def test_class_colors_prefer_the_model(
    model_colors: dict[str, str], expected: list[tuple[int, int, int]]
) -> None:
    assert class_colors(("cat", "dog"), model_colors) == expected


def test_palette_repeats_beyond_its_length() -> None:
    names = tuple(f"c{i}" for i in range(len(PALETTE) + 1))
    colors = class_colors(names, {})
    assert colors[len(PALETTE)] == colors[0]


def test_boxes_in_class_colours_on_a_copy() -> None:
    image = np.full((80, 100, 3), GREY, np.uint8)
    colors = [(0, 0, 255), (255, 0, 0)]
    out = draw_detections(
        image,
        detections([(10, 10, 40, 40), (50, 20, 90, 70)], [0, 1]),
        colors,
        VisualizationStyle(stroke_width=3),
    )
    assert (image == GREY).all(), "the input is not drawn on"
    assert tuple(out[25, 10]) == (0, 0, 255)  # left side of the cat box
    assert tuple(out[45, 90]) == (255, 0, 0)  # right side of the dog box
    assert tuple(out[25, 25]) == GREY  # inside a box: untouched


def test_no_detections_draws_nothing() -> None:
    image = np.full((80, 100, 3), GREY, np.uint8)
    out = draw_detections(image, detections([], []), [], VisualizationStyle(labels=True))
    np.testing.assert_array_equal(out, image)


def test_polygon_outlines_are_drawn() -> None:
    image = np.full((80, 100, 3), GREY, np.uint8)
    triangle = np.array([[20, 60], [50, 20], [80, 60]], np.float32)
    out = draw_detections(
        image,
        detections([(0, 0, 99, 79)], [1], [triangle]),
        [(0, 0, 0), (0, 255, 0)],
        VisualizationStyle(),
    )
    assert tuple(out[60, 50]) == (0, 255, 0)  # on the triangle's base
    assert tuple(out[45, 50]) == GREY  # inside it


def test_label_tag_sits_above_the_box() -> None:
    tag = _red_area((30, 40, 60, 70))
    assert tag[0] < 40 <= tag[2]  # rows above the box's top edge are filled
    assert tag[1] == 30  # from the box's left edge


def test_label_tag_moves_inside_at_the_top_and_right_edges() -> None:
    top, left, _, right = _red_area((95, 2, 99, 70))
    assert top >= 0 and left < 95 and right <= 99


def _red_area(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Top, left, bottom, right of the pixels drawn red (box and tag) for one labelled box."""
    image = np.full((80, 100, 3), GREY, np.uint8)
    out = draw_detections(
        image, detections([box], [0]), [(0, 0, 255), (0, 0, 0)], VisualizationStyle(labels=True)
    )
    ys, xs = np.nonzero((out == (0, 0, 255)).all(axis=2))
    return int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())


def test_encode_jpeg_round_trips() -> None:
    image = np.full((30, 40, 3), (10, 200, 30), np.uint8)
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(image), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).max() <= 5
