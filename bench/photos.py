"""Camera-sized test frames for the size sweep, made from a seed, never stored.

A frame is a shapes scene (``tools.shapes``, objects scaled with the frame so the
bundled detector still finds them once it is shrunk to the network's input), softened
as a lens softens a large frame, under a texture with a natural image's power
spectrum (octaves of smooth noise whose amplitude halves as their frequency doubles:
1/f, as in photographs), plus sensor grain. The grain is what fills a JPEG file: for
each frame its strength is searched so that the file at the requested quality weighs
what a camera's does at that resolution (:data:`SIZES`), whatever the scene's own
background.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.shapes import Scene, generate_scene

PHOTO_SEED_START = 3_000_000
"""Above the shapes' training, evaluation and ``bench.payloads`` seeds."""
PHOTO_CACHE = Path.home() / ".cache" / "rfserve-bench" / "photos"
"""Where :func:`photo_files` keeps the frames it makes, for every script that sends them."""
_VERSION = 1
"""Bumped whenever a seed's frame changes, so cached files are made again."""


@dataclass(frozen=True)
class FrameSize:
    width: int
    height: int
    typical_kb: int
    """About what a camera's JPEG at quality 90 weighs at this size."""

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"


SIZES: dict[str, FrameSize] = {
    size.label: size
    for size in (
        FrameSize(640, 480, 95),
        FrameSize(1920, 1080, 490),
        FrameSize(3840, 2160, 1800),
    )
}
_REFERENCE_SIDE = 480
"""Objects keep the size they have in a scene of this short side, scaled with the frame."""
_MAX_GRAIN = 16.0
_GRAIN_STEPS = 7
"""Bisection steps for the grain: 16 / 2**7, an eighth of a level."""
_TEXTURE_AMPLITUDE = 28.0
"""Standard deviation, in 8-bit levels, of the coarsest texture octave."""


def make_photo(seed: int, size: FrameSize, quality: int = 90) -> tuple[Scene, bytes]:
    """A ``size`` frame (BGR uint8) with the objects drawn in it, and its JPEG at
    ``quality``, from ``seed``."""
    width, height = size.width, size.height
    scale = min(width, height) / _REFERENCE_SIDE
    scene = generate_scene(seed, (width, height), object_scale=scale)
    rng = np.random.default_rng(seed)
    base: np.ndarray = scene.image.astype(np.float32)
    if scale > 1:
        base = cv2.GaussianBlur(base, (0, 0), sigmaX=scale / 2)
    base += _texture(rng, width, height)
    grain = rng.standard_normal(base.shape, dtype=np.float32)
    target = size.typical_kb * 1024
    low, high = 0.0, _MAX_GRAIN
    for _ in range(_GRAIN_STEPS):  # the file grows with the grain: bisect for its size
        middle = (low + high) / 2
        image, jpeg = _finish(base, grain, middle, quality)
        if len(jpeg) < target:
            low = middle
        else:
            high = middle
    scene.image, jpeg = _finish(base, grain, (low + high) / 2, quality)
    return scene, jpeg


def _finish(
    base: np.ndarray, grain: np.ndarray, sigma: float, quality: int
) -> tuple[np.ndarray, bytes]:
    image = np.clip(base + grain * np.float32(sigma), 0, 255).astype(np.uint8)
    return image, encode_jpeg(image, quality)


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """[H, W, 3] float32 of zero mean: octaves from a few cells across the frame down
    to 2-pixel cells, each half the amplitude of the one before, correlated across
    channels as light is (a shared grey part and a weaker colour part)."""
    texture = np.zeros((height, width, 3), np.float32)
    cell, amplitude = max(width, height) / 4, _TEXTURE_AMPLITUDE
    while cell >= 2:
        rows, cols = max(2, round(height / cell)), max(2, round(width / cell))
        grey = rng.standard_normal((rows, cols, 1), dtype=np.float32)
        colour = rng.standard_normal((rows, cols, 3), dtype=np.float32) * np.float32(0.4)
        coarse = (grey + colour) * np.float32(amplitude)
        texture += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        cell, amplitude = cell / 2, amplitude / 2
    return texture


def encode_jpeg(image_bgr: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buffer.tobytes()


def photo_files(size: FrameSize, count: int, quality: int, cache: Path | None) -> list[bytes]:
    """JPEG files of ``count`` frames (seeds from :data:`PHOTO_SEED_START`), kept in
    ``cache`` once made (a 4K frame takes seconds to make)."""
    files = []
    for seed in range(PHOTO_SEED_START, PHOTO_SEED_START + count):
        path = cache / f"{size.label}-q{quality}-{seed}-v{_VERSION}.jpg" if cache else None
        if path is not None and path.is_file():
            files.append(path.read_bytes())
            continue
        _, jpeg = make_photo(seed, size, quality)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg)
        files.append(jpeg)
    return files
