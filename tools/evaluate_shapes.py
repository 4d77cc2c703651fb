"""Measure the bundled shape models on held-out seeds, the way the server runs them.

Usage, from the repository root (needs numpy, opencv and onnxruntime; no torch)::

    python -m tools.evaluate_shapes [detection|segmentation|classification|keypoints ...]
        [--count 300]

Each image goes through the server's preprocessing (BGR → RGB, ``resize_to_input``
as the package's ``environment.json`` says, /255, NCHW), the ONNX model runs in
onnxruntime, and predictions are decoded as the server decodes them (max class score
>= 0.4, per-class NMS at IoU 0.3, masks = sigmoid(coefficients · prototypes)
upsampled to the input, cut to the box, > 0.5) and mapped back to original-image
pixels. Keypoints are scored on matched objects against the true ones under the
cyclic shift that fits best (corners have an order, not a first corner). Seeds start
at ``EVAL_SEED_START``, which training never uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from serve_app.core.frames import FrameTransform, ResizeMode  # noqa: E402
from serve_app.preprocessing.transforms import resize_to_input  # noqa: E402
from tools.shapes import (  # noqa: E402
    EVAL_SEED_START,
    Scene,
    box_iou,
    generate_classification_sample,
    generate_scene,
)

MODELS_DIR = REPO_ROOT / "serve_app" / "assets" / "models"
PACKAGES = {
    "detection": MODELS_DIR / "shapes-detection" / "1",
    "segmentation": MODELS_DIR / "shapes-segmentation" / "1",
    "classification": MODELS_DIR / "shapes-classification" / "1",
    "keypoints": MODELS_DIR / "shapes-keypoints" / "1",
}
CONFIDENCE = 0.4
NMS_IOU = 0.3
MATCH_IOU = 0.5
MASK_THRESHOLD = 0.5
KEYPOINT_TOLERANCE = 0.1
"""A keypoint is correct within this fraction of its object's size (sqrt of box area)."""


@dataclass(frozen=True)
class Prediction:
    """Detections of one image in original-image pixels.

    ``boxes`` float32 [D, 4] x1, y1, x2, y2; ``scores`` [D]; ``classes`` int64 [D];
    ``masks`` bool [D, H, W] or None for plain detection; ``keypoints`` float32
    [D, P, 3] (x, y in original pixels, visibility) or None.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None
    keypoints: np.ndarray | None = None


class OnnxModel:
    """A package's ONNX network and its input preprocessing."""

    def __init__(self, package: Path) -> None:
        environment = json.loads((package / "environment.json").read_text())
        resize = json.loads(environment["PREPROCESSING"])["resize"]
        self.width, self.height = int(resize["width"]), int(resize["height"])
        self.mode = ResizeMode(resize["format"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(
            str(package / "weights.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def run(self, bgr: np.ndarray) -> tuple[list[np.ndarray], FrameTransform]:
        """Outputs for one BGR uint8 image (batch dimension removed) and its frame."""
        net, frame = resize_to_input(bgr[:, :, ::-1], self.width, self.height, self.mode)
        x = net.transpose(2, 0, 1)[None].astype(np.float32) / 255
        return [out[0] for out in self.session.run(None, {"images": x})], frame


def decode_dense(
    outputs: list[np.ndarray],
    frame: FrameTransform,
    input_width: int,
    input_height: int,
    confidence: float = CONFIDENCE,
    with_masks: bool = True,
) -> Prediction:
    """Decode YOLOv8-layout outputs (``output0`` [4 + C (+ K), N], ``output1`` [K, h, w]).

    Masks are decoded when the model has prototypes and ``with_masks`` is set; the
    columns after the scores of a model without prototypes are keypoints (x, y, v).
    """
    predictions = outputs[0].T
    num_classes = 3
    class_scores = predictions[:, 4 : 4 + num_classes]
    classes = class_scores.argmax(1)
    scores = class_scores.max(1)
    keep = np.flatnonzero(scores >= confidence)
    centre, size = predictions[keep, :2], predictions[keep, 2:4]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    xywh = np.concatenate([boxes[:, :2], size], axis=1).astype(np.float32)
    survivors = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores[keep].tolist(), classes[keep].tolist(), 0.0, NMS_IOU
    )
    kept = np.asarray(survivors, dtype=np.int64).reshape(-1)
    kept = kept[np.argsort(-scores[keep][kept], kind="stable")]
    boxes, rows = boxes[kept], keep[kept]
    masks, keypoints = None, None
    extra = predictions[rows, 4 + num_classes :]
    if len(outputs) > 1 and with_masks:
        masks = _masks(extra, outputs[1], boxes, frame, input_width, input_height)
    elif len(outputs) == 1 and extra.shape[1]:
        keypoints = extra.reshape(len(rows), extra.shape[1] // 3, 3).copy()
        keypoints[..., :2] = frame.points_to_original(keypoints[..., :2])
    original = frame.boxes_to_original(boxes)
    return Prediction(original, scores[rows], classes[rows], masks, keypoints)


def _masks(
    coefficients: np.ndarray,
    prototypes: np.ndarray,
    boxes: np.ndarray,
    frame: FrameTransform,
    input_width: int,
    input_height: int,
) -> np.ndarray:
    """Binary masks [D, H, W] in original pixels for ``boxes`` [D, 4] in input pixels."""
    k, h, w = prototypes.shape
    logits = coefficients @ prototypes.reshape(k, h * w)
    probabilities = 1 / (1 + np.exp(-logits.reshape(-1, h, w)))
    ys = np.arange(input_height)[:, None] + 0.5
    xs = np.arange(input_width)[None, :] + 0.5
    # The part of the input that shows the image (letterbox padding cut away).
    new_w = round(frame.original_width * frame.scale_x)
    new_h = round(frame.original_height * frame.scale_y)
    top, left = int(frame.pad_y), int(frame.pad_x)
    out = np.zeros((len(boxes), frame.original_height, frame.original_width), dtype=bool)
    for i, (probability, box) in enumerate(zip(probabilities, boxes, strict=True)):
        upsampled = cv2.resize(
            probability, (input_width, input_height), interpolation=cv2.INTER_LINEAR
        )
        in_box = (xs >= box[0]) & (xs < box[2]) & (ys >= box[1]) & (ys < box[3])
        binary = ((upsampled > MASK_THRESHOLD) & in_box).astype(np.uint8)
        visible = binary[top : top + new_h, left : left + new_w]
        size = (frame.original_width, frame.original_height)
        out[i] = cv2.resize(visible, size, interpolation=cv2.INTER_NEAREST) > 0
    return out


@dataclass
class DenseScore:
    """Counts over a set of scenes; mask IoUs of true positives when masks exist."""

    objects: int = 0
    predictions: int = 0
    true_positives: int = 0
    mask_ious: list[float] | None = None
    keypoint_errors: list[float] | None = None
    """Pixel distance of each true keypoint of a matched object to its prediction."""
    keypoint_sizes: list[float] | None = None
    """Size (sqrt of box area, pixels) of the object of each keypoint error."""

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.objects, 1)

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.predictions, 1)


@dataclass(frozen=True)
class DenseRun:
    """A scene and the model's raw outputs for it, to score at several thresholds."""

    scene: Scene
    outputs: list[np.ndarray]
    frame: FrameTransform


def run_dense(model: OnnxModel, seeds: range) -> list[DenseRun]:
    """Run ``model`` on the scenes of ``seeds``."""
    runs = []
    for seed in seeds:
        scene = generate_scene(seed)
        outputs, frame = model.run(scene.image)
        runs.append(DenseRun(scene, outputs, frame))
    return runs


def score_dense(
    model: OnnxModel, runs: list[DenseRun], confidence: float = CONFIDENCE, with_masks: bool = True
) -> DenseScore:
    """Box recall / precision at IoU 0.5 (class must match) and mask IoU of matches.

    Predictions are matched greedily, best score first, each to the unmatched
    object of its class that it overlaps most.
    """
    score = DenseScore()
    for run in runs:
        prediction = decode_dense(
            run.outputs, run.frame, model.width, model.height, confidence, with_masks
        )
        if prediction.masks is not None and score.mask_ious is None:
            score.mask_ious = []
        objects = run.scene.objects
        score.objects += len(objects)
        score.predictions += len(prediction.scores)
        matched: set[int] = set()
        for d in np.argsort(-prediction.scores, kind="stable"):
            best, best_iou = -1, MATCH_IOU
            for g, obj in enumerate(objects):
                if g in matched or obj.class_id != prediction.classes[d]:
                    continue
                iou = float(box_iou(prediction.boxes[d], obj.box)[0, 0])
                if iou >= best_iou:
                    best, best_iou = g, iou
            if best < 0:
                continue
            matched.add(best)
            score.true_positives += 1
            if prediction.masks is not None and score.mask_ious is not None:
                truth, predicted = objects[best].mask, prediction.masks[d]
                union = np.logical_or(truth, predicted).sum()
                intersection = np.logical_and(truth, predicted).sum()
                score.mask_ious.append(float(intersection / max(union, 1)))
            if prediction.keypoints is not None:
                obj = objects[best]
                errors = keypoint_errors(obj.keypoints, prediction.keypoints[d, :, :2])
                size = float(np.sqrt(np.prod(obj.box[2:] - obj.box[:2])))
                score.keypoint_errors = (score.keypoint_errors or []) + errors.tolist()
                score.keypoint_sizes = (score.keypoint_sizes or []) + [size] * len(errors)
    return score


def keypoint_errors(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Distances [K] from each of an object's true keypoints [K, 2] to the predicted
    ones [P >= K, 2], under the cyclic shift of the first K predictions that fits best."""
    k = len(truth)
    shifts = [np.roll(predicted[:k], -s, axis=0) for s in range(k)]
    distances = [np.hypot(*(shift - truth).T) for shift in shifts]
    return min(distances, key=lambda d: float(d.sum()))


def evaluate_classification(package: Path, seeds: range) -> float:
    """Top-1 accuracy of the softmax over the raw logits."""
    model = OnnxModel(package)
    correct = 0
    for seed in seeds:
        image, label = generate_classification_sample(seed)
        (logits,), _ = model.run(image)
        correct += int(np.argmax(logits) == label)
    return correct / len(seeds)


def report(kind: str, count: int) -> str:
    """One line of figures for ``kind`` measured on ``count`` held-out seeds."""
    seeds = range(EVAL_SEED_START, EVAL_SEED_START + count)
    if kind == "classification":
        accuracy = evaluate_classification(PACKAGES[kind], seeds)
        return f"classification: top-1 accuracy {accuracy:.4f} on {count} samples"
    model = OnnxModel(PACKAGES[kind])
    score = score_dense(model, run_dense(model, seeds))
    line = (
        f"{kind}: recall {score.recall:.4f} precision {score.precision:.4f} "
        f"({score.true_positives} TP of {score.objects} objects, {score.predictions} predictions, "
        f"{count} scenes)"
    )
    if score.mask_ious:
        line += f", mean mask IoU {np.mean(score.mask_ious):.4f}"
    if score.keypoint_errors and score.keypoint_sizes:
        errors, sizes = np.array(score.keypoint_errors), np.array(score.keypoint_sizes)
        correct = np.mean(errors <= KEYPOINT_TOLERANCE * sizes)
        line += (
            f", keypoints: mean error {errors.mean():.2f} px, median {np.median(errors):.2f} px, "
            f"{correct:.4f} within {KEYPOINT_TOLERANCE:g} of the object size "
            f"({len(errors)} keypoints)"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "kinds", nargs="*", metavar="KIND", help=f"any of {', '.join(PACKAGES)}; default: all"
    )
    parser.add_argument("--count", type=int, default=300, help="held-out seeds per model")
    args = parser.parse_args()
    unknown = set(args.kinds) - set(PACKAGES)
    if unknown:
        parser.error(f"unknown model kind(s): {', '.join(sorted(unknown))}")
    for kind in args.kinds or list(PACKAGES):
        print(report(kind, args.count), flush=True)


if __name__ == "__main__":
    main()
