"""Deterministic synthetic images of simple shapes, for training and testing the bundled models.

Every image is a pure function of an integer seed (numpy ``default_rng(seed)``), so a
data set is just a range of seeds and never needs to be stored. By convention the
training scripts use seeds from 0 upward, calibrate the detectors' scores on seeds
from ``CALIBRATION_SEED_START`` (500_000), and evaluation and tests use seeds
>= ``EVAL_SEED_START`` (1_000_000), which training never reaches.

Images are BGR uint8 (OpenCV order), like ``cv2.imread`` returns. Coordinates are
original-image pixels; a box ``x1, y1, x2, y2`` is tight around the object's pixels
with ``x2``/``y2`` one past the last pixel (so ``x2 - x1`` is the width in pixels).

Only numpy and OpenCV are imported, so the test suite can use this module without
torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASS_NAMES = ("circle", "square", "triangle")
KEYPOINT_NAMES = {
    "circle": ("centre",),
    "square": ("corner-1", "corner-2", "corner-3", "corner-4"),
    "triangle": ("corner-1", "corner-2", "corner-3"),
}
"""Each class's keypoints: corners go clockwise (image axes, y down) from any corner."""
CALIBRATION_SEED_START = 500_000
"""First seed used to calibrate detector scores after training (not trained on)."""
EVAL_SEED_START = 1_000_000
"""First seed used for evaluation; training and calibration seeds stay below it."""

_SCENE_SIDE = (256, 640)
_CLASSIFICATION_SIDE = (96, 320)
_OBJECT_SIZE = (30.0, 150.0)
"""Diameter of the circle an object is drawn in, in pixels (about its short side)."""
_MAX_OBJECTS = 5
_MAX_BOX_IOU = 0.1
_MIN_COLOUR_DISTANCE = 90.0
"""Least RGB distance between an object's colour and (nearly all) background pixels under it."""


@dataclass
class ShapeObject:
    class_id: int
    box: np.ndarray
    """float32 [4]: x1, y1, x2, y2, tight around ``mask``, original-image pixels."""
    mask: np.ndarray
    """bool [H, W]: the object's pixels."""
    keypoints: np.ndarray
    """float32 [K, 2] (x, y), original-image pixels: a circle's centre, a square's or a
    triangle's corners in clockwise order (image axes, y down) from any corner."""


@dataclass
class Scene:
    image: np.ndarray
    """uint8 [H, W, 3], BGR."""
    objects: list[ShapeObject]


def generate_scene(
    seed: int, size: tuple[int, int] | None = None, object_scale: float = 1.0
) -> Scene:
    """A scene of 1-5 non-overlapping shapes on a varied background.

    Width and height are each drawn from [256, 640] unless ``size`` (width, height)
    fixes them; objects are 30-150 pixels across, times ``object_scale`` (larger
    frames for the benchmark keep their objects in proportion). Objects never share
    pixels and their boxes overlap with IoU < 0.1; if no such place is found for an
    object after many tries it is left out, so a scene always has at least one object
    but may have fewer than drawn. With the defaults a seed gives the scene it always
    gave.
    """
    rng = np.random.default_rng(seed)
    drawn = tuple(int(v) for v in rng.integers(_SCENE_SIDE[0], _SCENE_SIDE[1] + 1, size=2))
    width, height = size or drawn
    background = _background(rng, height, width)
    image = background.copy()
    taken = np.zeros((height, width), dtype=bool)
    objects: list[ShapeObject] = []
    smallest = _OBJECT_SIZE[0] * object_scale
    max_size = min(_OBJECT_SIZE[1] * object_scale, 0.6 * min(width, height))
    for _ in range(int(rng.integers(1, _MAX_OBJECTS + 1))):
        for _attempt in range(30):
            diameter = float(rng.uniform(smallest, max_size))
            placed = _try_place(rng, image, background, taken, objects, diameter)
            if placed is not None:
                objects.append(placed)
                # Keep a 3-pixel gap so that neighbouring objects never touch.
                taken |= cv2.dilate(placed.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
                break
    return Scene(image=_finish(rng, image), objects=objects)


def generate_classification_sample(seed: int) -> tuple[np.ndarray, int]:
    """One shape filling much of a varied background, and its class id.

    Returns a BGR uint8 [H, W, 3] image with H and W each in [96, 320], and the
    index of the shape's class in ``CLASS_NAMES``.
    """
    rng = np.random.default_rng(seed)
    width, height = (
        int(v) for v in rng.integers(_CLASSIFICATION_SIDE[0], _CLASSIFICATION_SIDE[1] + 1, size=2)
    )
    background = _background(rng, height, width)
    image = background.copy()
    short = min(width, height)
    taken = np.zeros((height, width), dtype=bool)
    placed = None
    while placed is None:  # retried only when no contrasting colour was found
        size = float(rng.uniform(0.3, 0.8)) * short
        placed = _try_place(rng, image, background, taken, [], size)
    return _finish(rng, image), placed.class_id


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [N, M] between x1, y1, x2, y2 boxes ``a`` [N, 4] and ``b`` [M, 4]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _try_place(
    rng: np.random.Generator,
    image: np.ndarray,
    background: np.ndarray,
    taken: np.ndarray,
    others: list[ShapeObject],
    size: float,
) -> ShapeObject | None:
    """Draw one random shape of diameter ``size`` on ``image`` if it fits; else None.

    It fits when it lies inside the image, shares no pixel with ``taken``, its box
    has IoU < 0.1 with every box in ``others`` and some colour contrasts with the
    background under it. ``image`` is modified only on success.
    """
    height, width = image.shape[:2]
    radius = size / 2
    centre = rng.uniform([radius, radius], [width - radius, height - radius])
    class_id = int(rng.integers(len(CLASS_NAMES)))
    mask_u8 = np.zeros((height, width), dtype=np.uint8)
    outline = _outline(rng, class_id, centre, radius)
    # OpenCV draws point (x, y) at the centre of pixel (x, y), which spans [x, x + 1).
    corners = centre[None] if outline is None else outline / 16
    keypoints = (corners + 0.5).astype(np.float32)
    if outline is None:
        cv2.circle(mask_u8, _fixed(centre), int(round(radius * 16)), 1, -1, cv2.LINE_8, 4)
    else:
        cv2.fillPoly(mask_u8, [outline], 1, cv2.LINE_8, 4)
    mask = mask_u8.astype(bool)
    if not mask.any() or (mask & taken).any():
        return None
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)
    if others and box_iou(box, np.stack([o.box for o in others])).max() >= _MAX_BOX_IOU:
        return None
    colour = _contrasting_colour(rng, background[mask])
    if colour is None:
        return None
    # Anti-aliased edges on the image; the mask above is the hard-edged version.
    if outline is None:
        cv2.circle(image, _fixed(centre), int(round(radius * 16)), colour, -1, cv2.LINE_AA, 4)
    else:
        cv2.fillPoly(image, [outline], colour, cv2.LINE_AA, 4)
    return ShapeObject(class_id=class_id, box=box, mask=mask, keypoints=keypoints)


def _outline(
    rng: np.random.Generator, class_id: int, centre: np.ndarray, radius: float
) -> np.ndarray | None:
    """Polygon vertices [K, 2] int32 in 1/16-pixel fixed point, or None for a circle.

    Squares and triangles are inscribed in the circle of ``radius`` at a random
    rotation; triangle corners are jittered so that not all triangles are equilateral.
    """
    name = CLASS_NAMES[class_id]
    if name == "circle":
        return None
    start = rng.uniform(0, 2 * np.pi)
    if name == "square":
        angles = start + np.arange(4) * np.pi / 2
    else:
        angles = start + np.arange(3) * 2 * np.pi / 3 + rng.uniform(-0.25, 0.25, size=3)
    points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.round(points * 16).astype(np.int32)


def _fixed(point: np.ndarray) -> tuple[int, int]:
    """A point in 1/16-pixel fixed point for OpenCV drawing with ``shift=4``."""
    return int(round(point[0] * 16)), int(round(point[1] * 16))


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int] | None:
    """A BGR colour far from at least 98% of the background pixels ``under`` [K, 3]."""
    sample = under[:: max(1, len(under) // 500)].astype(np.float32)
    for _ in range(20):
        colour = rng.integers(0, 256, size=3)
        distance = np.linalg.norm(sample - colour, axis=1)
        if np.percentile(distance, 2) >= _MIN_COLOUR_DISTANCE:
            return int(colour[0]), int(colour[1]), int(colour[2])
    return None


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A uint8 [H, W, 3] background: solid, gradient, blotchy or noisy, maybe with lines."""
    kind = rng.integers(4)
    base = rng.integers(0, 256, size=3).astype(np.float32)
    canvas: np.ndarray
    if kind == 0:  # solid colour
        canvas = np.tile(base, (height, width, 1))
    elif kind == 1:  # linear gradient between two colours in a random direction
        other = rng.integers(0, 256, size=3).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        canvas = base + t[..., None] * (other - base)
    elif kind == 2:  # smooth blotches: coarse random colours, upsampled
        cells = rng.integers(2, 7, size=2)
        coarse = base + rng.normal(0, 40, size=(cells[0], cells[1], 3))
        canvas = cv2.resize(
            coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
        )
    else:  # per-pixel noise around a colour
        sigma = np.float32(rng.uniform(5, 20))
        canvas = base + rng.standard_normal(size=(height, width, 3), dtype=np.float32) * sigma
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        _clutter_lines(rng, canvas)
    return canvas


def _clutter_lines(rng: np.random.Generator, canvas: np.ndarray) -> None:
    """Draw 1-8 random straight lines (distractors, never closed shapes) in place."""
    height, width = canvas.shape[:2]
    for _ in range(int(rng.integers(1, 9))):
        p1 = rng.uniform([0, 0], [width, height])
        p2 = rng.uniform([0, 0], [width, height])
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        cv2.line(canvas, _fixed(p1), _fixed(p2), colour, int(rng.integers(1, 4)), cv2.LINE_AA, 4)


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera-like finish: sometimes a slight blur, always a little sensor noise."""
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    noise = rng.standard_normal(size=image.shape, dtype=np.float32)
    noise *= np.float32(rng.uniform(0, 6))
    return np.clip(image + noise, 0, 255).astype(np.uint8)
