"""environment.json preprocessing through the HTTP API, and its per-request switches.

The fixture model reports fixed boxes in network-input pixels, scored by the mean red
and blue of the network input (tests/fixtures_preprocessing.py). So boxes check each
geometric step's mapping back to original pixels, worked out here by hand, and scores
check what the colour steps and the letterbox padding did to the pixels.
"""

from __future__ import annotations

import base64

import cv2
import httpx
import numpy as np
import pytest

from tests.fixtures_preprocessing import with_exif_orientation
from tests.support import b64_image, box_of, solid_image

ROUTE = "/infer/object_detection"
# Box of each class in network-input pixels (tools/fixtures/heads.py: BOXES).
RED_BOX = (60.0, 70.0, 140.0, 130.0)
BLUE_BOX = (195.0, 155.0, 245.0, 245.0)


def detect(client: httpx.Client, model_id: str, image: np.ndarray, **params: object) -> dict:
    r = client.post(ROUTE, json={"model_id": model_id, "image": b64_image(image), **params})
    assert r.status_code == 200, r.text
    return r.json()


def best(body: dict, name: str) -> dict | None:
    found = [p for p in body["predictions"] if p["class"] == name]
    return max(found, key=lambda p: p["confidence"]) if found else None


def crop_scene() -> np.ndarray:
    """800x400, black except the region the crop keeps, which is full red and blue."""
    image = solid_image(800, 400, (0, 0, 0))
    image[200:400, 200:600] = (255, 0, 255)
    return image


@pytest.mark.parametrize(
    ("model_id", "red_box", "blue_box", "score"),
    [
        # Stretch of the 400x200 crop to 320x320: x / 0.8 + 200, y / 1.6 + 200.
        ("pre-crop/1", (275, 243.75, 375, 281.25), (443.75, 296.875, 506.25, 353.125), 1.0),
        # Letterbox: scale 0.8, 80 rows of padding above. Both boxes reach into the
        # padding and end at the crop's edge (y 200 and 400), not beyond it.
        ("pre-crop/2", (275, 200, 375, 262.5), (443.75, 293.75, 506.25, 400), 0.5),
    ],
)
def test_static_crop_maps_boxes_back_with_the_crop_offset(
    preprocessing_client: httpx.Client,
    model_id: str,
    red_box: tuple[float, ...],
    blue_box: tuple[float, ...],
    score: float,
) -> None:
    body = detect(preprocessing_client, model_id, crop_scene())
    assert body["image"] == {"width": 800, "height": 400}
    red, blue = best(body, "red-thing"), best(body, "blue-thing")
    assert red and blue
    assert box_of(red) == pytest.approx(red_box, abs=0.01)
    assert box_of(blue) == pytest.approx(blue_box, abs=0.01)
    # The network saw only the crop: the black outside does not dilute the scores.
    assert red["confidence"] == pytest.approx(score, abs=2e-3)


def test_disable_static_crop_serves_the_whole_image(preprocessing_client: httpx.Client) -> None:
    body = detect(
        preprocessing_client,
        "pre-crop/1",
        crop_scene(),
        disable_preproc_static_crop=True,
        confidence=0.1,
    )
    red = best(body, "red-thing")
    assert red
    # Stretch of the whole 800x400 image to 320x320, and a quarter of it is red.
    assert box_of(red) == pytest.approx((150, 87.5, 350, 162.5), abs=0.01)
    assert red["confidence"] == pytest.approx(0.25, abs=2e-3)


@pytest.mark.parametrize(
    ("model_id", "pad"),
    [("pre-fit/1", 0), ("pre-fit/2", 255), ("pre-fit/3", 114)],
    ids=["black", "white", "grey"],
)
def test_fit_modes_pad_with_roboflow_values_and_map_boxes_back(
    preprocessing_client: httpx.Client, model_id: str, pad: int
) -> None:
    # 640x320 into 320x320: scale 0.5, 80 padding rows above and below the image.
    body = detect(
        preprocessing_client, model_id, solid_image(640, 320, (0, 0, 200)), confidence=0.05
    )
    red = best(body, "red-thing")
    assert red
    assert box_of(red) == pytest.approx((120, 0, 280, 100), abs=0.01)
    # Half the input rows are the image, half the padding.
    assert red["confidence"] == pytest.approx((200 + pad) / 2 / 255, abs=2e-3)
    blue = best(body, "blue-thing")
    if pad / 2 / 255 < 0.05:
        assert blue is None
    else:
        assert blue and blue["confidence"] == pytest.approx(pad / 2 / 255, abs=2e-3)
        assert box_of(blue) == pytest.approx((390, 150, 490, 320), abs=0.01)


def halves(left_bgr: tuple[int, int, int], right_bgr: tuple[int, int, int]) -> np.ndarray:
    """640x320, halves of two colours; the 2x stretch keeps each half's mean exact."""
    image = solid_image(640, 320, left_bgr)
    image[:, 320:] = right_bgr
    return image


@pytest.mark.parametrize(
    ("model_id", "image", "red", "blue", "red_without"),
    [
        # Stretching maps the 2nd..98th percentile (0..150) onto 0..255: 100 → 170.
        ("pre-contrast/1", halves((0, 0, 100), (0, 0, 150)), (170 + 255) / 2, 0, 125),
        # Equalising two grey levels sends them to 0 and 255.
        ("pre-contrast/2", halves((50,) * 3, (100,) * 3), 127.5, 127.5, 75),
        # Grey 76 (ITU-R 601 weight of red) on every channel.
        ("pre-gray/1", halves((0, 0, 255), (0, 0, 255)), 76, 76, 255),
    ],
    ids=["contrast-stretching", "histogram-equalization", "grayscale"],
)
def test_colour_steps_change_what_the_network_sees(
    preprocessing_client: httpx.Client,
    model_id: str,
    image: np.ndarray,
    red: float,
    blue: float,
    red_without: float,
) -> None:
    body = detect(preprocessing_client, model_id, image, confidence=0.05)
    assert best(body, "red-thing")["confidence"] == pytest.approx(red / 255, abs=2e-3)
    found_blue = best(body, "blue-thing")
    assert (found_blue["confidence"] if found_blue else 0.0) == pytest.approx(blue / 255, abs=2e-3)

    switches = {"disable_preproc_contrast": True, "disable_preproc_grayscale": True}
    body = detect(preprocessing_client, model_id, image, confidence=0.05, **switches)
    assert best(body, "red-thing")["confidence"] == pytest.approx(red_without / 255, abs=2e-3)


def test_adaptive_equalization_runs_on_the_grey_image(preprocessing_client: httpx.Client) -> None:
    image = halves((0, 0, 120), (0, 0, 240))  # no blue at all
    body = detect(preprocessing_client, "pre-contrast/3", image, confidence=0.05)
    red, blue = best(body, "red-thing"), best(body, "blue-thing")
    assert red and blue and red["confidence"] == pytest.approx(blue["confidence"], abs=1e-4)
    body = detect(
        preprocessing_client,
        "pre-contrast/3",
        image,
        confidence=0.05,
        disable_preproc_contrast=True,
    )
    assert best(body, "blue-thing") is None


def test_auto_orient_follows_the_model_and_the_request(
    preprocessing_client: httpx.Client, client: httpx.Client
) -> None:
    ok, encoded = cv2.imencode(".jpg", solid_image(64, 32, (0, 0, 255)))
    assert ok
    rotated = with_exif_orientation(encoded.tobytes(), 6)
    image = {"type": "base64", "value": base64.b64encode(rotated).decode()}

    def size(c: httpx.Client, model_id: str, **params: object) -> dict:
        r = c.post(ROUTE, json={"model_id": model_id, "image": image, **params})
        assert r.status_code == 200, r.text
        return r.json()["image"]

    assert size(preprocessing_client, "pre-orient/1") == {"width": 32, "height": 64}
    assert size(preprocessing_client, "pre-orient/1", disable_preproc_auto_orient=True) == {
        "width": 64,
        "height": 32,
    }
    # A model trained without auto-orient sees the pixels as stored.
    assert size(client, "fixture-yolov8/1") == {"width": 64, "height": 32}
