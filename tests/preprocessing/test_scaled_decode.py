"""Scaled JPEG decoding: which scale libjpeg decodes at, EXIF orientation on the right
axes, a static crop scaled with the image, the map back onto the whole image, the
drawing path and the setting that turns it off; and the bundled detector's answers,
which stay those of a whole decode within the stated tolerance."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from serve_app.app import image_limits, stage_configs
from serve_app.config import AppConfig, ServerSettings
from serve_app.core.requests import (
    ImageBatch,
    ImagePayload,
    ImageType,
    InferenceParams,
    PreprocessOptions,
)
from serve_app.preprocessing.image_loading import ImageLimits, decode_payload
from serve_app.preprocessing.prepare import decode_floor, prepare_decoded, prepare_image
from serve_app.preprocessing.stage import _prepare
from tests.preprocessing.test_pipeline import CROP, package

POLICY = image_limits(ServerSettings())
WHOLE = image_limits(ServerSettings(scaled_jpeg_decode=False))
NETWORK = (320, 320)


def jpeg(width: int, height: int, orientation: int = 1, fmt: str = "JPEG") -> ImagePayload:
    """A grey ``width`` x ``height`` image (as stored) with a red block in its top-left
    eighth, as file bytes with the EXIF orientation given."""
    image = np.full((height, width, 3), 90, np.uint8)
    image[: height // 8, : width // 8] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(out, fmt, exif=exif.tobytes())
    return ImagePayload(ImageType.BYTES, out.getvalue())


def red_centre(image: np.ndarray) -> tuple[float, float]:
    """Where the red block is, as a share of the width and height."""
    ys, xs = np.nonzero((image[:, :, 2] > 200) & (image[:, :, 0] < 60))
    return float(xs.mean() / image.shape[1]), float(ys.mean() / image.shape[0])


@pytest.mark.parametrize(
    ("size", "at_least", "decoded"),
    [
        ((3840, 2160), NETWORK, (960, 540)),  # 1/8 leaves 270 rows: 1/4
        ((640, 640), NETWORK, (320, 320)),  # exactly twice: 1/2
        ((639, 1280), NETWORK, (639, 1280)),  # under twice across: whole
        ((2561, 2561), NETWORK, (321, 321)),  # libjpeg rounds up: ceil(2561 / 8)
        ((1001, 999), (100, 100), (126, 125)),
        ((1920, 1080), (640, 320), (960, 540)),  # a crop keeping half the width
    ],
)
def test_the_coarsest_scale_that_covers_the_input(
    size: tuple[int, int], at_least: tuple[int, int], decoded: tuple[int, int]
) -> None:
    image = decode_payload(jpeg(*size), POLICY, True, at_least)
    assert image.pixels.shape[1::-1] == decoded
    assert (image.width, image.height) == size
    assert image.reduced is (decoded != size)


@pytest.mark.parametrize(
    ("payload", "policy", "at_least"),
    [
        (jpeg(3840, 2160), WHOLE, NETWORK),  # RFSERVE_SCALED_JPEG_DECODE=false
        (jpeg(3840, 2160), POLICY, None),  # nothing asked: a drawing needs it whole
        (jpeg(3840, 2160, fmt="PNG"), POLICY, NETWORK),  # not a JPEG
    ],
)
def test_decoded_whole(
    payload: ImagePayload, policy: ImageLimits, at_least: tuple[int, int] | None
) -> None:
    image = decode_payload(payload, policy, True, at_least)
    assert image.pixels.shape[:2] == (2160, 3840) and not image.reduced


@pytest.mark.parametrize(
    ("orientation", "auto_orient", "oriented", "block"),
    [
        (1, True, (4000, 2000), (0.06, 0.06)),
        (6, True, (2000, 4000), (0.94, 0.06)),  # a quarter turn clockwise
        (8, True, (2000, 4000), (0.06, 0.94)),
        (3, True, (4000, 2000), (0.94, 0.94)),
        (6, False, (4000, 2000), (0.06, 0.06)),  # orientation ignored
    ],
)
def test_exif_orientation_applies_and_scales_the_right_axes(
    orientation: int, auto_orient: bool, oriented: tuple[int, int], block: tuple[float, float]
) -> None:
    payload = jpeg(4000, 2000, orientation)
    scaled = decode_payload(payload, POLICY, auto_orient, NETWORK)
    whole = decode_payload(payload, WHOLE, auto_orient, NETWORK)
    assert (scaled.width, scaled.height) == oriented == whole.pixels.shape[1::-1]
    # 2000 / 8 = 250 < 320: a quarter of each side, on the oriented axes.
    assert scaled.pixels.shape[1::-1] == (oriented[0] // 4, oriented[1] // 4)
    assert red_centre(scaled.pixels) == pytest.approx(block, abs=0.01)
    assert red_centre(whole.pixels) == pytest.approx(block, abs=0.01)


@pytest.mark.parametrize("fmt", ["Stretch to", "Fit (black edges) in"])
@pytest.mark.parametrize("steps", [{}, CROP])
@pytest.mark.parametrize("size", [(3840, 2160), (2561, 2563), (2000, 4001)])
def test_answers_map_back_onto_the_whole_image(
    fmt: str, steps: dict[str, object], size: tuple[int, int]
) -> None:
    """Network points land where the whole decode puts them: exactly when the sides
    divide by the scale, within the scale's rounding (under one reduced pixel) when
    libjpeg rounds a side up; and the image keeps the original's size."""
    spec = package(steps, fmt)
    options = PreprocessOptions()
    payload = jpeg(*size)
    scaled = decode_payload(payload, POLICY, True, decode_floor(spec, options))
    assert scaled.reduced
    _, frame = prepare_decoded(scaled, spec, options)
    _, whole = prepare_image(decode_payload(payload, WHOLE).pixels, spec, options)
    assert (frame.original_width, frame.original_height) == size
    grid = np.stack(np.meshgrid(np.linspace(0, 320, 9), np.linspace(0, 320, 9)), -1)
    points = grid.reshape(-1, 2).astype(np.float32)
    scale = size[0] / scaled.pixels.shape[1]
    divides = size[0] % scale == 0 and size[1] % scale == 0
    np.testing.assert_allclose(
        frame.points_to_original(points),
        whole.points_to_original(points),
        atol=1e-2 if divides and not steps else scale,
    )


def test_a_drawing_gets_the_whole_image() -> None:
    spec = package({}, "Fit (black edges) in")
    base64_payload = ImagePayload(
        ImageType.BASE64, base64.b64encode(jpeg(3840, 2160).value).decode()
    )
    options = PreprocessOptions()
    drawn = _prepare(base64_payload, spec, options, POLICY, keep_decoded=True)
    plain = _prepare(base64_payload, spec, options, POLICY, keep_decoded=False)
    assert drawn.decoded is not None and drawn.decoded.shape[:2] == (2160, 3840)
    assert plain.decoded is None
    assert drawn.frame.original_width == plain.frame.original_width == 3840


def test_the_setting_reaches_the_preprocessing_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    def limits() -> ImageLimits:
        return stage_configs(AppConfig(settings=ServerSettings())).preprocessing.images

    assert limits().scaled_jpeg_decode is True
    monkeypatch.setenv("RFSERVE_SCALED_JPEG_DECODE", "false")
    assert limits().scaled_jpeg_decode is False


def test_the_bundled_detector_answers_as_on_the_whole_image() -> None:
    """Same classes and box IoU >= 0.95 on 1080p frames (decoded at 1/2 for 320x320)."""
    from bench.photos import PHOTO_SEED_START, SIZES, make_photo
    from serve_app.core.engines import EngineOptions
    from serve_app.engines.factory import OnnxEngineFactory
    from serve_app.replica.loaded_model import LoadedModel
    from serve_app.weight_settings import weight_sources
    from serve_app.weights.store import package_store
    from tools.shapes import box_iou

    package_ = package_store(weight_sources(ServerSettings())).package("shapes-detection/1")
    engines = OnnxEngineFactory(EngineOptions(backend="onnxruntime", num_threads=1), 1)
    model = LoadedModel.load(package_, engines)
    options = PreprocessOptions()
    floor = decode_floor(model.spec, options)
    matched = 0
    for seed in range(PHOTO_SEED_START, PHOTO_SEED_START + 3):
        _, file = make_photo(seed, SIZES["1920x1080"])
        payload = ImagePayload(ImageType.BYTES, file)
        answers = []
        for policy in (WHOLE, POLICY):
            decoded = decode_payload(payload, policy, True, floor)
            pixels, frame = prepare_decoded(decoded, model.spec, options)
            batch = ImageBatch(pixels[None], (frame,), (InferenceParams(),))
            answers.append(model.run_batch(batch)[0])
        whole, scaled = answers
        assert sorted(whole.class_id.tolist()) == sorted(scaled.class_id.tolist())
        assert (whole.image_width, whole.image_height) == (scaled.image_width, 1080)
        ious = box_iou(whole.xyxy, scaled.xyxy)
        same_class = whole.class_id[:, None] == scaled.class_id[None, :]
        assert (np.where(same_class, ious, 0).max(axis=1) >= 0.95).all()
        matched += len(whole)
    assert matched >= 3, "the frames must hold objects the detector finds"


def test_opencv_applies_orientation_at_reduced_scales() -> None:
    """What the loader relies on: IMREAD_REDUCED_* turns the image as IMREAD_COLOR
    does, and IMREAD_IGNORE_ORIENTATION still turns it off."""
    data = np.frombuffer(jpeg(800, 400, orientation=6).value, np.uint8)
    assert cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2).shape[:2] == (400, 200)
    flags = cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION
    assert cv2.imdecode(data, flags).shape[:2] == (200, 400)
