"""prepare_image: the model's steps in Roboflow's order, the request's switches, and the
frame transform that maps network-input points back onto the client's image."""

from __future__ import annotations

import numpy as np
import pytest

from serve_app.core.frames import FrameTransform, ResizeMode
from serve_app.core.ids import ModelId, Task
from serve_app.core.requests import PreprocessOptions
from serve_app.core.spec import ModelSpec
from serve_app.preprocessing.prepare import prepare_image, should_auto_orient
from serve_app.preprocessing.steps import to_grayscale
from serve_app.preprocessing.transforms import resize_to_input
from serve_app.weights.package import parse_preprocessing

CROP = {"static-crop": {"enabled": True, "x_min": 25, "y_min": 50, "x_max": 75, "y_max": 100}}


def package(steps: dict[str, object], fmt: str = "Stretch to") -> ModelSpec:
    resize = {"resize": {"enabled": True, "width": 320, "height": 320, "format": fmt}}
    return ModelSpec(
        model_id=ModelId("unit", "1"),
        task=Task.OBJECT_DETECTION,
        model_type="yolov8n",
        class_names=("a",),
        preprocessing=parse_preprocessing({**resize, **steps}),
        input_width=320,
        input_height=320,
        batch_size=None,
    )


def scene() -> np.ndarray:
    """800x400 BGR: black, with the region CROP keeps in (255, 0, 200)."""
    image = np.zeros((400, 800, 3), np.uint8)
    image[200:400, 200:600] = (255, 0, 200)
    return image


@pytest.mark.parametrize(
    ("fmt", "point_in", "point_out"),
    [
        # Crop 400x200 at (200, 200) stretched to 320x320: x / 0.8, y / 1.6.
        ("Stretch to", (160, 160), (400, 300)),
        # Letterboxed: scale 0.8, 80 rows of padding above; padding clips to the crop.
        ("Fit (black edges) in", (160, 160), (400, 300)),
        ("Fit (black edges) in", (0, 0), (200, 200)),
        ("Fit (black edges) in", (320, 320), (600, 400)),
    ],
)
def test_static_crop_offsets_the_frame(
    fmt: str, point_in: tuple[float, float], point_out: tuple[float, float]
) -> None:
    pixels, frame = prepare_image(scene(), package(CROP, fmt), PreprocessOptions())
    assert pixels.shape == (320, 320, 3)
    assert (frame.original_width, frame.original_height) == (800, 400)
    mapped = frame.points_to_original(np.array([point_in], np.float32))
    np.testing.assert_allclose(mapped[0], point_out, atol=1e-3)


def test_network_input_is_rgb_of_the_crop_only() -> None:
    pixels, frame = prepare_image(scene(), package(CROP), PreprocessOptions())
    assert (pixels == (200, 0, 255)).all()  # RGB of BGR (255, 0, 200)


@pytest.mark.parametrize(
    ("steps", "options", "expected_rgb"),
    [
        ({"grayscale": {}}, PreprocessOptions(), (76, 76, 76)),
        ({"grayscale": {}}, PreprocessOptions(disable_grayscale=True), (255, 0, 0)),
        ({"contrast": {"type": "Histogram Equalization"}}, PreprocessOptions(), (76, 76, 76)),
        (
            {"contrast": {"type": "Histogram Equalization"}},
            PreprocessOptions(disable_contrast=True),
            (255, 0, 0),
        ),
        # Switches only turn steps off: disabling an absent step changes nothing.
        ({}, PreprocessOptions(disable_grayscale=True, disable_static_crop=True), (255, 0, 0)),
    ],
)
def test_request_switches_turn_steps_off(
    steps: dict, options: PreprocessOptions, expected_rgb: tuple[int, int, int]
) -> None:
    red = np.full((20, 20, 3), (0, 0, 255), np.uint8)
    pixels, frame = prepare_image(red, package(steps), options)
    assert (pixels == expected_rgb).all()


def test_disabled_crop_leaves_the_frame_whole() -> None:
    pixels, frame = prepare_image(
        scene(), package(CROP), PreprocessOptions(disable_static_crop=True)
    )
    assert frame == FrameTransform(800, 400, scale_x=0.4, scale_y=0.8)


@pytest.mark.parametrize(
    ("model_auto_orient", "disabled", "expected"),
    [(True, False, True), (True, True, False), (False, False, False)],
)
def test_auto_orient_needs_the_model_and_no_switch(
    model_auto_orient: bool, disabled: bool, expected: bool
) -> None:
    steps = {"auto-orient": {"enabled": True}} if model_auto_orient else {}
    options = PreprocessOptions(disable_auto_orient=disabled)
    assert should_auto_orient(package(steps), options) is expected


@pytest.mark.parametrize(
    ("mode", "pad"),
    [
        (ResizeMode.FIT_BLACK, 0),
        (ResizeMode.FIT_WHITE, 255),
        (ResizeMode.FIT_GREY, 114),  # Roboflow's letterbox grey
    ],
)
def test_fit_modes_pad_with_roboflow_values(mode: ResizeMode, pad: int) -> None:
    image = np.full((100, 200, 3), 7, np.uint8)
    pixels, frame = resize_to_input(image, 320, 320, mode)
    assert (pixels[:80] == pad).all() and (pixels[240:] == pad).all()
    assert (pixels[80:240] == 7).all()
    assert (frame.scale_x, frame.scale_y, frame.pad_x, frame.pad_y) == (1.6, 1.6, 0.0, 80.0)


@pytest.mark.parametrize(
    ("frame", "point_in", "point_out"),
    [
        # No crop: clipped to the image.
        (FrameTransform(100, 50, scale_x=2, scale_y=2, pad_y=10), (-10, 0), (0, 0)),
        (FrameTransform(100, 50, scale_x=2, scale_y=2, pad_y=10), (500, 500), (100, 50)),
        # A 40x20 crop at (30, 10) of a 100x50 image: clipped to the crop, then shifted.
        (FrameTransform(40, 20).with_offset(30, 10, 100, 50), (-5, -5), (30, 10)),
        (FrameTransform(40, 20).with_offset(30, 10, 100, 50), (15, 5), (45, 15)),
        (FrameTransform(40, 20).with_offset(30, 10, 100, 50), (60, 60), (70, 30)),
    ],
)
def test_points_are_clipped_to_the_region_the_network_saw(
    frame: FrameTransform, point_in: tuple[float, float], point_out: tuple[float, float]
) -> None:
    mapped = frame.points_to_original(np.array([point_in], np.float32))
    np.testing.assert_allclose(mapped[0], point_out)


@pytest.mark.parametrize(
    ("width", "height", "content", "scale", "pad"),
    [
        # 320 / (639 / 539) = 269.9 rows, truncated to 269 and placed from row 25; the
        # way back (Roboflow's) scales by 320 / 639 and pads by (320 - round(269.9)) / 2.
        (639, 539, (0, 25, 320, 269), 320 / 639, (0.0, 25.0)),
        # 149 rows exactly: the pad of half the odd margin is 85.5 on the way back.
        (640, 298, (0, 85, 320, 149), 0.5, (0.0, 85.5)),
        # Taller than wide: 149.8 columns truncated to 149 from column 85; back, the
        # rounded 150 leaves a pad of 85.
        (300, 641, (85, 0, 149, 320), 320 / 641, (85.0, 0.0)),
    ],
)
def test_fit_rounds_as_roboflow_does(
    width: int,
    height: int,
    content: tuple[int, int, int, int],
    scale: float,
    pad: tuple[float, float],
) -> None:
    pixels, frame = resize_to_input(
        np.full((height, width, 3), 7, np.uint8), 320, 320, ResizeMode.FIT_BLACK
    )
    left, top, new_w, new_h = content
    assert (pixels[top : top + new_h, left : left + new_w] == 7).all()
    assert (pixels == 7).sum() == new_w * new_h * 3, "the image fills exactly that region"
    assert (frame.scale_x, frame.scale_y) == pytest.approx((scale, scale))
    assert (frame.pad_x, frame.pad_y) == pad


@pytest.mark.parametrize("fmt", ["Stretch to", "Fit (black edges) in", "Fit (grey edges) in"])
@pytest.mark.parametrize("steps", [{}, CROP, {"grayscale": {}}])
def test_rgb_after_the_resize_gives_the_pixels_of_rgb_before_it(
    fmt: str, steps: dict[str, object]
) -> None:
    """The flip to RGB runs on the network-size result (cheap) rather than on the
    decoded image (a copy of all of it); resizing and padding treat the channels
    alike, so the network gets the very same pixels."""
    image = np.random.default_rng(3).integers(0, 256, (301, 517, 3), dtype=np.uint8)
    spec = package(steps, fmt)
    pixels, frame = prepare_image(image, spec, PreprocessOptions())
    region = image[150:301, 129:387] if steps == CROP else image
    if "grayscale" in steps:
        region = to_grayscale(region)
    mode = ResizeMode(fmt)
    expected, _ = resize_to_input(np.ascontiguousarray(region[:, :, ::-1]), 320, 320, mode)
    assert pixels.flags.c_contiguous
    np.testing.assert_array_equal(pixels, expected)
