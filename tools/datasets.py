"""Training sets built from ``tools.shapes`` seeds, already in network-input form.

Each sample goes through exactly the server's preprocessing (BGR → RGB, then
``serve_app.preprocessing.transforms.resize_to_input``), so the networks train on
what they will be served. Sets are built with a small process pool and cached under
``tools/_work/`` (git-ignored) so that re-runs skip generation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from multiprocessing import Pool
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from serve_app.core.frames import ResizeMode
from serve_app.preprocessing.transforms import resize_to_input
from tools.shapes import generate_classification_sample, generate_scene

WORK_DIR = Path(__file__).resolve().parent / "_work"
MAX_OBJECTS = 5
MASK_STRIDE = 4
"""Masks are kept at the prototype resolution, network input / 4."""
MAX_KEYPOINTS = 4
"""Keypoints of the shape with the most (a square's corners); others are padded."""

SetT = TypeVar("SetT", "SceneSet", "ClassificationSet")


@dataclass
class SceneSet:
    """Detection / segmentation samples in network-input pixels.

    ``images`` uint8 [S, H, W, 3] RGB; ``boxes`` float32 [S, M, 4] x1, y1, x2, y2;
    ``classes`` int64 [S, M], -1 where a slot holds no object; ``masks`` float16
    [S, M, H/4, W/4], the fraction of each prototype cell the object covers (soft
    targets), or an empty array when masks were not asked for; ``keypoints`` float32
    [S, M, MAX_KEYPOINTS, 3] x, y, 1 for each of an object's keypoints (0, 0, 0 where it
    has fewer), or an empty array when keypoints were not asked for.
    """

    images: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    masks: np.ndarray
    keypoints: np.ndarray


@dataclass
class ClassificationSet:
    """``images`` uint8 [S, H, W, 3] RGB network input; ``labels`` int64 [S]."""

    images: np.ndarray
    labels: np.ndarray


def scene_set(
    seeds: range,
    width: int,
    height: int,
    mode: ResizeMode,
    with_masks: bool,
    with_keypoints: bool = False,
) -> SceneSet:
    """The scenes of ``seeds`` resized to ``width`` x ``height`` as ``mode`` says."""
    key = (
        f"scenes-{seeds.start}-{seeds.stop}-{width}x{height}-{mode.name}-{with_masks}"
        f"-{with_keypoints}"
    )
    task = _SceneTask(width, height, mode, with_masks, with_keypoints)
    return _cached(key, SceneSet, lambda: _stack(SceneSet, _map(task, seeds)))


def classification_set(
    seeds: range, width: int, height: int, mode: ResizeMode
) -> ClassificationSet:
    """The classification samples of ``seeds`` resized as the server would."""
    key = f"classification-{seeds.start}-{seeds.stop}-{width}x{height}-{mode.name}"
    task = _ClassificationTask(width, height, mode)
    return _cached(key, ClassificationSet, lambda: _stack(ClassificationSet, _map(task, seeds)))


@dataclass(frozen=True)
class _SceneTask:
    """Picklable per-seed worker for :func:`scene_set`."""

    width: int
    height: int
    mode: ResizeMode
    with_masks: bool
    with_keypoints: bool

    def __call__(self, seed: int) -> tuple[np.ndarray, ...]:
        scene = generate_scene(seed)
        net, frame = resize_to_input(scene.image[:, :, ::-1], self.width, self.height, self.mode)
        boxes = np.zeros((MAX_OBJECTS, 4), np.float32)
        classes = np.full(MAX_OBJECTS, -1, np.int64)
        mask_shape = (self.height // MASK_STRIDE, self.width // MASK_STRIDE)
        masks = np.zeros((MAX_OBJECTS if self.with_masks else 0, *mask_shape), np.float16)
        keypoints = np.zeros(
            (MAX_OBJECTS if self.with_keypoints else 0, MAX_KEYPOINTS, 3), np.float32
        )
        scale = np.array([frame.scale_x, frame.scale_y] * 2, np.float32)
        pad = np.array([frame.pad_x, frame.pad_y] * 2, np.float32)
        for slot, obj in enumerate(scene.objects):
            boxes[slot] = obj.box * scale + pad
            classes[slot] = obj.class_id
            if self.with_keypoints:
                count = len(obj.keypoints)
                keypoints[slot, :count, :2] = obj.keypoints * scale[:2] + pad[:2]
                keypoints[slot, :count, 2] = 1.0
            if self.with_masks:
                in_frame, _ = resize_to_input(
                    obj.mask.astype(np.uint8) * 255, self.width, self.height, self.mode
                )
                # Area averaging gives each prototype cell its covered fraction.
                small = cv2.resize(in_frame, mask_shape[::-1], interpolation=cv2.INTER_AREA)
                masks[slot] = small.astype(np.float32) / 255
        return np.ascontiguousarray(net), boxes, classes, masks, keypoints


@dataclass(frozen=True)
class _ClassificationTask:
    """Picklable per-seed worker for :func:`classification_set`."""

    width: int
    height: int
    mode: ResizeMode

    def __call__(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        image, label = generate_classification_sample(seed)
        net, _ = resize_to_input(image[:, :, ::-1], self.width, self.height, self.mode)
        return np.ascontiguousarray(net), np.array(label, dtype=np.int64)


def _map(
    task: Callable[[int], tuple[np.ndarray, ...]], seeds: range
) -> list[tuple[np.ndarray, ...]]:
    """``task`` over ``seeds`` on both cores, in seed order."""
    with Pool(2) as pool:
        return pool.map(task, seeds, chunksize=64)


def _stack(cls: type[SetT], samples: list[tuple[np.ndarray, ...]]) -> SetT:
    return cls(*(np.stack(column) for column in zip(*samples, strict=True)))


def _cached(key: str, cls: type[SetT], build: Callable[[], SetT]) -> SetT:
    """Load the set ``key`` from ``WORK_DIR``, or build and save it."""
    folder = WORK_DIR / f"{key}-{_generator_version()}"
    names = [f.name for f in fields(cls)]
    if all((folder / f"{name}.npy").exists() for name in names):
        return cls(*(np.load(folder / f"{name}.npy") for name in names))
    data = build()
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        np.save(folder / f"{name}.npy", getattr(data, name))
    return data


def _generator_version() -> str:
    """Short hash of the generator and this module, so edits invalidate the cache."""
    digest = hashlib.sha256()
    for path in (Path(__file__), Path(__file__).with_name("shapes.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
