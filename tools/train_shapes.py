"""Train, export and check the bundled shape models (detection, segmentation, classification).

Usage, from the repository root, in a venv with torch, onnx, onnxruntime, opencv::

    python -m tools.train_shapes detect      # → serve_app/assets/models/shapes-detection/1
    python -m tools.train_shapes segment     # → .../shapes-segmentation/1
    python -m tools.train_shapes classify    # → .../shapes-classification/1
    python -m tools.train_shapes keypoints   # → .../shapes-keypoints/1

Run ``detect`` before ``segment`` and ``classify``: they start from the detector's
weights, which each run saves under ``tools/_work/`` (git-ignored, with the cached
training data). ``keypoints`` trains from scratch (its detection loss is the
detector's, and it must not depend on a detector run being at hand).
``--export-only`` re-exports a saved model without training it again.

Training is seeded (data seeds from 0 upward, torch and numpy seeds fixed) and runs
on the CPU with two threads. Each run ends by evaluating the exported ONNX file
with ``tools.evaluate_shapes`` on held-out seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from serve_app.core.frames import ResizeMode  # noqa: E402
from tools import datasets, losses  # noqa: E402
from tools.datasets import MAX_KEYPOINTS  # noqa: E402
from tools.evaluate_shapes import (  # noqa: E402
    CONFIDENCE,
    PACKAGES,
    OnnxModel,
    report,
    run_dense,
    score_dense,
)
from tools.nets import Classifier, DenseDetector  # noqa: E402
from tools.packaging import write_package  # noqa: E402
from tools.shapes import CALIBRATION_SEED_START, CLASS_NAMES  # noqa: E402

Batch = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Recipe:
    """Everything that differs between the three models."""

    kind: str
    """Key in ``tools.evaluate_shapes.PACKAGES``."""
    task: str
    model_type: str
    size: int
    """Square network input side, pixels."""
    mode: ResizeMode
    output_names: tuple[str, ...]
    train_samples: int
    steps: int
    batch_size: int
    learning_rate: float
    warm_start: str | None = None
    """Kind of an already trained model whose weights this one starts from."""


RECIPES = {
    "detect": Recipe(
        kind="detection",
        task="object-detection",
        model_type="yolov8n",
        size=320,
        mode=ResizeMode.FIT_BLACK,
        output_names=("output0",),
        train_samples=6000,
        steps=1200,
        batch_size=16,
        learning_rate=3e-3,
    ),
    "segment": Recipe(
        kind="segmentation",
        task="instance-segmentation",
        model_type="yolov8n-seg",
        size=320,
        mode=ResizeMode.STRETCH,
        output_names=("output0", "output1"),
        train_samples=6000,
        steps=1100,
        batch_size=16,
        learning_rate=3e-3,
        warm_start="detection",
    ),
    "classify": Recipe(
        kind="classification",
        task="classification",
        model_type="yolov8n-cls",
        size=128,
        mode=ResizeMode.STRETCH,
        output_names=("output0",),
        train_samples=20000,
        steps=1200,
        batch_size=48,
        learning_rate=3e-3,
        warm_start="detection",
    ),
    "keypoints": Recipe(
        kind="keypoints",
        task="keypoint-detection",
        model_type="yolov8n-pose",
        size=320,
        mode=ResizeMode.FIT_BLACK,
        output_names=("output0",),
        train_samples=6000,
        steps=1400,
        batch_size=16,
        learning_rate=3e-3,
    ),
}
NUM_PROTOTYPES = 32
MASK_LOSS_WEIGHT = 2.0
KEYPOINT_LOSS_WEIGHT = 2.0
BOX_LOSS_WEIGHT = 2.0
EMA_DECAY = 0.995
CALIBRATION_SEEDS = range(CALIBRATION_SEED_START, CALIBRATION_SEED_START + 200)
THRESHOLD_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))
"""Candidate score thresholds for calibration, 0.30 to 0.90."""
TARGET_PRECISION = 0.95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, help="override the recipe's optimiser steps")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="skip training: export the weights the last run saved under tools/_work/",
    )
    args = parser.parse_args()
    recipe = RECIPES[args.command]
    if args.steps:
        recipe = Recipe(**{**recipe.__dict__, "steps": args.steps})
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    with_masks = recipe.kind == "segmentation"
    with_keypoints = recipe.kind == "keypoints"
    model: nn.Module = (
        Classifier(len(CLASS_NAMES))
        if recipe.kind == "classification"
        else DenseDetector(
            len(CLASS_NAMES),
            recipe.size,
            NUM_PROTOTYPES if with_masks else 0,
            num_keypoints=MAX_KEYPOINTS if with_keypoints else 0,
        )
    )
    checkpoint = datasets.WORK_DIR / f"{recipe.kind}.pt"
    if args.export_only:
        model.load_state_dict(torch.load(checkpoint))
    else:
        started = time.monotonic()
        if recipe.warm_start:
            _warm_start(model, datasets.WORK_DIR / f"{recipe.warm_start}.pt")
        seeds = range(recipe.train_samples)
        if recipe.kind == "classification":
            data = datasets.classification_set(seeds, recipe.size, recipe.size, recipe.mode)
            next_batch = _classification_batches(data, rng, recipe.batch_size)
            loss_fn = _classification_losses
        else:
            scenes = datasets.scene_set(
                seeds, recipe.size, recipe.size, recipe.mode, with_masks, with_keypoints
            )
            next_batch = _scene_batches(scenes, rng, recipe.batch_size)
            loss_fn = _dense_losses
        print(f"data ready in {time.monotonic() - started:.0f} s", flush=True)
        model = fit(model, next_batch, loss_fn, recipe.steps, recipe.learning_rate)
        print(f"trained in {time.monotonic() - started:.0f} s", flush=True)
        torch.save(model.state_dict(), checkpoint)

    package = PACKAGES[recipe.kind]
    export = partial(
        write_package,
        package,
        output_names=recipe.output_names,
        width=recipe.size,
        height=recipe.size,
        mode=recipe.mode,
        task=recipe.task,
        model_type=recipe.model_type,
    )
    if isinstance(model, DenseDetector):
        export(model.export_module())
        threshold = best_threshold(package)
        print(f"calibration: score {threshold:.2f} moved to {CONFIDENCE}", flush=True)
        export(model.export_module(score_bias=_logit(threshold) - _logit(CONFIDENCE)))
    else:
        export(model.export_module())
    print(f"wrote {package} ({(package / 'weights.onnx').stat().st_size} bytes)", flush=True)
    print(report(recipe.kind, 300), flush=True)


def best_threshold(package: Path) -> float:
    """The lowest score threshold whose box precision on the calibration scenes
    reaches ``TARGET_PRECISION`` (the highest candidate if none does).

    The detectors are trained with hard class targets, which leaves their scores
    over-confident: at the server's default threshold (``CONFIDENCE``) they would
    report too many doubtful boxes. The exported graph shifts the logits to put
    this threshold at ``CONFIDENCE`` (a Platt-style bias, fitted on seeds that are
    neither trained on nor used for evaluation); the lowest such threshold keeps
    recall as high as the precision target allows.
    """
    model = OnnxModel(package)
    runs = run_dense(model, CALIBRATION_SEEDS)
    for threshold in THRESHOLD_GRID:
        if score_dense(model, runs, threshold, with_masks=False).precision >= TARGET_PRECISION:
            return threshold
    return THRESHOLD_GRID[-1]


def _warm_start(model: nn.Module, checkpoint: Path) -> None:
    """Copy the weights of another trained model where they fit.

    Tensors of the same name and shape are copied whole; where only the first
    dimension differs (an output layer with more channels, e.g. mask coefficients
    after the box and class rows) the common leading rows are copied.
    """
    if not checkpoint.exists():
        raise SystemExit(f"{checkpoint} is missing: train that model first")
    source = torch.load(checkpoint)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():  # views of the live parameters
            other = source.get(name)
            if other is None or other.shape[1:] != tensor.shape[1:]:
                continue
            if tensor.dim() == 0:  # e.g. BatchNorm's batch counter
                tensor.copy_(other)
            else:
                rows = min(len(tensor), len(other))
                tensor[:rows].copy_(other[:rows])
    print(f"warm start from {checkpoint}", flush=True)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def fit(
    model: nn.Module,
    next_batch: Callable[[], Batch],
    loss_fn: Callable[[nn.Module, Batch], dict[str, torch.Tensor]],
    steps: int,
    learning_rate: float,
) -> nn.Module:
    """Train with AdamW, a linear warm-up then cosine decay; log the losses every 50 steps.

    Returns an exponential moving average of the weights (and BatchNorm statistics),
    which is steadier than the last step's weights after a short schedule.
    """
    model.train()
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(EMA_DECAY), use_buffers=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=5e-4)
    warmup = min(100, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            (step + 1) / warmup
            if step < warmup
            else 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup)))
        ),
    )
    started = time.monotonic()
    running: dict[str, float] = {}
    for step in range(1, steps + 1):
        parts = loss_fn(model, next_batch())
        loss = sum(parts.values(), torch.zeros(()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        schedule.step()
        average.update_parameters(model)
        for name, value in parts.items():
            running[name] = running.get(name, 0.0) + value.item() / 50
        if step % 50 == 0:
            figures = " ".join(f"{name} {value:.4f}" for name, value in running.items())
            print(f"step {step}/{steps} {figures} ({time.monotonic() - started:.0f} s)", flush=True)
            running = {}
    return average.module


def _dense_losses(model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
    images, gt_boxes, gt_classes, gt_masks, gt_keypoints = batch
    out = model(images)
    matched = losses.assign(model.points, model.strides, gt_boxes, gt_classes)
    parts = losses.detection_losses(out.boxes, out.logits, matched, gt_boxes, gt_classes)
    parts["box"] = parts["box"] * BOX_LOSS_WEIGHT
    if out.prototypes is not None:
        parts["mask"] = MASK_LOSS_WEIGHT * losses.mask_loss(
            out.coefficients, out.prototypes, matched, gt_boxes, gt_masks, datasets.MASK_STRIDE
        )
    if out.keypoints is not None:
        keypoint_parts = losses.keypoint_losses(out.keypoints, matched, gt_boxes, gt_keypoints)
        parts["keypoints"] = KEYPOINT_LOSS_WEIGHT * keypoint_parts["keypoints"]
        parts["visibility"] = keypoint_parts["visibility"]
    return parts


def _classification_losses(model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
    images, labels = batch
    return {"cross_entropy": nn.functional.cross_entropy(model(images), labels)}


def _scene_batches(
    data: datasets.SceneSet, rng: np.random.Generator, batch_size: int
) -> Callable[[], Batch]:
    """Random batches (images float32 [B, 3, S, S] in [0, 1], boxes, classes, masks,
    keypoints), each sample under a random symmetry of the square (the labels do not
    change)."""
    size = data.images.shape[1]

    def next_batch() -> Batch:
        index = rng.choice(len(data.images), batch_size, replace=False)
        samples = [
            _dihedral(
                int(rng.integers(8)),
                size,
                data.images[i],
                data.boxes[i],
                data.masks[i],
                data.keypoints[i],
            )
            for i in index
        ]
        images, boxes, masks, keypoints = (
            np.stack(column) for column in zip(*samples, strict=True)
        )
        return (
            _to_input(images),
            torch.from_numpy(boxes),
            torch.from_numpy(data.classes[index]),
            torch.from_numpy(masks.astype(np.float32)),
            torch.from_numpy(keypoints),
        )

    return next_batch


def _classification_batches(
    data: datasets.ClassificationSet, rng: np.random.Generator, batch_size: int
) -> Callable[[], Batch]:
    """Random batches (images float32 [B, 3, S, S] in [0, 1], labels int64 [B]),
    each image under a random symmetry of the square."""
    size = data.images.shape[1]
    no_boxes = np.zeros((0, 4), np.float32)
    no_masks = np.zeros((0, 1, 1), np.float32)
    no_keypoints = np.zeros((0, 1, 3), np.float32)

    def next_batch() -> Batch:
        index = rng.choice(len(data.images), batch_size, replace=False)
        images = np.stack(
            [
                _dihedral(
                    int(rng.integers(8)), size, data.images[i], no_boxes, no_masks, no_keypoints
                )[0]
                for i in index
            ]
        )
        return _to_input(images), torch.from_numpy(data.labels[index])

    return next_batch


def _dihedral(
    symmetry: int,
    size: int,
    image: np.ndarray,
    boxes: np.ndarray,
    masks: np.ndarray,
    keypoints: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply one of the 8 symmetries of a ``size`` x ``size`` square.

    Bit 0 flips left-right, bit 1 flips top-bottom, bit 2 swaps the axes (after the
    flips). ``image`` is [S, S, 3], ``boxes`` [M, 4] x1, y1, x2, y2 pixels, ``masks``
    [M, h, w], ``keypoints`` [M, P, 3] (x, y, valid); all are transformed alike. Each
    of the three is a mirror image, so an odd number of them turns clockwise corners
    anticlockwise: their order is then reversed.
    """
    boxes, keypoints = boxes.copy(), keypoints.copy()
    if symmetry & 1:
        image, masks = image[:, ::-1], masks[:, :, ::-1]
        boxes[:, [0, 2]] = size - boxes[:, [2, 0]]
        keypoints[..., 0] = size - keypoints[..., 0]
    if symmetry & 2:
        image, masks = image[::-1], masks[:, ::-1]
        boxes[:, [1, 3]] = size - boxes[:, [3, 1]]
        keypoints[..., 1] = size - keypoints[..., 1]
    if symmetry & 4:
        image, masks = image.transpose(1, 0, 2), masks.transpose(0, 2, 1)
        boxes = boxes[:, [1, 0, 3, 2]]
        keypoints = keypoints[..., [1, 0, 2]]
    if bin(symmetry).count("1") % 2:
        for obj in keypoints:
            count = int(obj[:, 2].sum())
            obj[:count] = obj[:count][::-1].copy()
    keypoints[..., :2] *= keypoints[..., 2:]  # padding stays at 0, 0
    return image, boxes, masks, keypoints


def _to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, S, S, 3] RGB → float32 [B, 3, S, S] in [0, 1], as the server feeds it."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255


if __name__ == "__main__":
    main()
