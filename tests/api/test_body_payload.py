"""A raw HTTP body as the image payload it carries (the classic route's bodies)."""

from __future__ import annotations

import base64
import io
import pickle

import numpy as np
import pytest

from serve_app.api.routes.legacy import payload_from_body
from serve_app.app import image_limits
from serve_app.config import ServerSettings
from serve_app.core.requests import ImageType
from serve_app.errors import InvalidImageError
from serve_app.preprocessing.image_loading import load_image
from tests.support import png_b64

IMAGE = np.full((6, 8, 3), (10, 20, 30), np.uint8)
PNG = base64.b64decode(png_b64(IMAGE))
POLICY = image_limits(ServerSettings(max_image_pixels=10_000))


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


@pytest.mark.parametrize(
    ("body", "image_type", "expected_type", "as_text"),
    [
        (base64.b64encode(PNG), ImageType.BASE64, ImageType.BASE64, True),
        (PNG, ImageType.BASE64, ImageType.BYTES, False),  # binary file posted as is
        (base64.b64encode(npy(IMAGE)), ImageType.NUMPY, ImageType.NUMPY, True),
        (npy(IMAGE), ImageType.NUMPY, ImageType.NUMPY, False),
    ],
)
def test_text_and_binary_bodies_decode_alike(
    body: bytes, image_type: ImageType, expected_type: ImageType, as_text: bool
) -> None:
    payload = payload_from_body(body, image_type)
    assert payload.type is expected_type
    assert isinstance(payload.value, str) is as_text
    np.testing.assert_array_equal(load_image(payload, POLICY), IMAGE)


@pytest.mark.parametrize("body", [pickle.dumps(IMAGE), base64.b64encode(pickle.dumps(IMAGE))])
def test_pickled_bodies_are_refused_by_default(body: bytes) -> None:
    with pytest.raises(InvalidImageError, match="RFSERVE_ALLOW_PICKLED_NUMPY"):
        load_image(payload_from_body(body, ImageType.NUMPY), POLICY)
