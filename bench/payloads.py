"""Request bodies for the benchmark, built once before any timing starts."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

SCENE_SEED_START = 2_000_000
"""Above training (< 1_000_000) and evaluation seeds, so bench images are unseen."""
NOISE_SIZE = (640, 480)
"""Width, height of the fallback random-noise images."""


@dataclass(frozen=True)
class BenchImages:
    images_bgr: list[np.ndarray]
    """HxWx3 uint8 BGR, as a client would have decoded them."""
    jpeg_b64: list[str]
    """The same images as base64 JPEG files, as they go on the wire."""
    source: str
    quality: int

    @property
    def mean_jpeg_kb(self) -> float:
        return float(np.mean([len(b) * 3 / 4 for b in self.jpeg_b64])) / 1024


def generate_images(count: int, seed_start: int = SCENE_SEED_START) -> tuple[list[np.ndarray], str]:
    """Shapes scenes from ``tools.shapes`` where importable, else random noise."""
    try:
        from tools.shapes import generate_scene
    except ImportError:
        rng = np.random.default_rng(seed_start)
        width, height = NOISE_SIZE
        noise = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]
        return noise, f"random noise {width}x{height}"
    scenes = [generate_scene(seed_start + i).image for i in range(count)]
    return scenes, f"tools.shapes scenes, seeds {seed_start}..{seed_start + count - 1}"


def encode_jpeg_b64(image_bgr: np.ndarray, quality: int) -> str:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return base64.b64encode(buffer.tobytes()).decode("ascii")


def build_images(count: int, quality: int) -> BenchImages:
    images, source = generate_images(count)
    encoded = [encode_jpeg_b64(image, quality) for image in images]
    return BenchImages(images_bgr=images, jpeg_b64=encoded, source=source, quality=quality)


def detection_bodies(
    model_id: str, images_b64: Sequence[str], per_request: int, api_key: str | None = None
) -> list[bytes]:
    """``POST /infer/object_detection`` bodies, serialised once: one image each, or a list
    of ``per_request`` images going round ``images_b64``. ``api_key`` is for servers that
    want one (Roboflow's, even for a cached model)."""
    bodies = []
    for start in range(len(images_b64)):
        chosen = [images_b64[(start + k) % len(images_b64)] for k in range(per_request)]
        payloads = [{"type": "base64", "value": value} for value in chosen]
        body: dict[str, object] = {
            "model_id": model_id,
            "image": payloads[0] if per_request == 1 else payloads,
        }
        if api_key is not None:
            body["api_key"] = api_key
        bodies.append(json.dumps(body).encode())
    return bodies
