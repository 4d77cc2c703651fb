"""What scaled JPEG decoding does to the answers: each model on each frame size, its
images decoded whole and decoded as the server decodes them by default, compared.

    python -m bench.scaled_decode_check                       # the bundled models
    python -m bench.scaled_decode_check --models-dir /tmp/models-640 \\
        --model shapes-detection-640/1 --out bench/results/scaled-decode-640

Detections match one to one by class and box IoU (greedy, best first); a frame
passes when both decodings give the same classes and every matched box has IoU >=
0.95. Each decoding's boxes are also matched to the objects drawn (the frames are
``bench.photos`` scenes): where the two decodings differ, this says which is nearer
the truth. Runs in this process, without Ray.
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.photos import PHOTO_SEED_START, SIZES, make_photo
from bench.report import save_record
from serve_app.app import image_limits
from serve_app.config import ServerSettings
from serve_app.core.engines import EngineOptions
from serve_app.core.predictions import Classification, Detections, Prediction
from serve_app.core.requests import (
    ImageBatch,
    ImagePayload,
    ImageType,
    InferenceParams,
    PreprocessOptions,
)
from serve_app.engines.factory import OnnxEngineFactory
from serve_app.preprocessing.image_loading import decode_payload
from serve_app.preprocessing.prepare import decode_floor, prepare_decoded
from serve_app.replica.loaded_model import LoadedModel
from serve_app.weight_settings import weight_sources
from serve_app.weights.store import PackageStore, package_store
from tools.shapes import box_iou

BUNDLED = ("shapes-detection/1", "shapes-segmentation/1", "shapes-keypoints/1")
MIN_IOU = 0.95


@dataclass(frozen=True)
class Comparison:
    model_id: str
    size: str
    frames: int
    reduced: int
    """Frames the server decoded at a reduced scale."""
    same_classes: int
    min_iou: float | None
    mean_iou: float | None
    detections: int
    truth_iou_whole: float | None
    """Mean over the drawn objects of the best IoU of a box found for it."""
    truth_iou_scaled: float | None
    decode_ms_whole: float
    decode_ms_scaled: float
    """Median per frame: base64, header, decode, resize (what preprocessing does)."""

    @property
    def passed(self) -> bool:
        return self.same_classes == self.frames and (self.min_iou or 1.0) >= MIN_IOU


@dataclass(frozen=True)
class CheckResult:
    comparisons: list[Comparison]


def compare_model(
    model_id: str, store: PackageStore, frames: int, quality: int
) -> list[Comparison]:
    package = store.package(model_id)
    engines = OnnxEngineFactory(EngineOptions(backend="onnxruntime", num_threads=1), 1)
    model = LoadedModel.load(package, engines)
    settings = ServerSettings()
    options = PreprocessOptions()
    at_least = decode_floor(package.spec, options)
    results = []
    for label, size in SIZES.items():
        photos = [make_photo(PHOTO_SEED_START + i, size, quality) for i in range(frames)]
        payloads = [
            ImagePayload(ImageType.BASE64, base64.b64encode(jpeg).decode()) for _, jpeg in photos
        ]
        truth = [np.stack([o.box for o in scene.objects]) for scene, _ in photos]
        whole, whole_ms, _ = _run(model, payloads, settings, None, options)
        scaled, scaled_ms, reduced = _run(model, payloads, settings, at_least, options)
        same, ious, count = _match(whole, scaled)
        results.append(
            Comparison(
                model_id, label, frames, reduced, same,
                min(ious) if ious else None, float(np.mean(ious)) if ious else None, count,
                _truth_iou(truth, whole), _truth_iou(truth, scaled), whole_ms, scaled_ms,
            )
        )  # fmt: skip
    return results


def _run(
    model: LoadedModel,
    payloads: Sequence[ImagePayload],
    settings: ServerSettings,
    at_least: tuple[int, int] | None,
    options: PreprocessOptions,
) -> tuple[list[Prediction], float, int]:
    limits = image_limits(settings)
    auto_orient = model.spec.preprocessing.auto_orient
    predictions, durations, reduced = [], [], 0
    for payload in payloads:
        start = time.perf_counter()
        decoded = decode_payload(payload, limits, auto_orient, at_least)
        pixels, frame = prepare_decoded(decoded, model.spec, options)
        durations.append(time.perf_counter() - start)
        reduced += decoded.reduced
        batch = ImageBatch(pixels[None], (frame,), (InferenceParams(),))
        predictions.append(model.run_batch(batch)[0])
    return predictions, 1e3 * float(np.median(durations)), reduced


def _match(
    whole: Sequence[Prediction], scaled: Sequence[Prediction]
) -> tuple[int, list[float], int]:
    """(frames with the same classes, IoU of each matched box, detections compared)."""
    same, ious, count = 0, [], 0
    for a, b in zip(whole, scaled, strict=True):
        if isinstance(a, Classification) and isinstance(b, Classification):
            same += int(np.argmax(a.scores) == np.argmax(b.scores))
            continue
        assert isinstance(a, Detections) and isinstance(b, Detections)
        count += len(a)
        if sorted(a.class_id.tolist()) != sorted(b.class_id.tolist()):
            continue
        same += 1
        if len(a):
            matrix = box_iou(a.xyxy, b.xyxy) * (a.class_id[:, None] == b.class_id[None, :])
            ious.extend(_greedy(matrix))
    return same, ious, count


def _truth_iou(truth: Sequence[np.ndarray], found: Sequence[Prediction]) -> float | None:
    best = []
    for boxes, prediction in zip(truth, found, strict=True):
        if not isinstance(prediction, Detections):
            return None
        ious = box_iou(boxes, prediction.xyxy) if len(prediction) else np.zeros((len(boxes), 1))
        best.extend(ious.max(axis=1).tolist())
    return float(np.mean(best))


def _greedy(matrix: np.ndarray) -> list[float]:
    matrix = matrix.copy()
    matched = []
    for _ in range(min(matrix.shape)):
        i, j = np.unravel_index(np.argmax(matrix), matrix.shape)
        matched.append(float(matrix[i, j]))
        matrix[i, :] = -1
        matrix[:, j] = -1
    return matched


def markdown(result: CheckResult) -> str:
    rows = [
        "| model | frame | frames reduced | same classes | box IoU min / mean | detections "
        "| IoU to the drawn objects, whole / scaled | preprocessing ms, whole / scaled "
        "| passes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result.comparisons:
        iou = f"{c.min_iou:.3f} / {c.mean_iou:.3f}" if c.min_iou is not None else "n/a"
        rows.append(
            f"| {c.model_id} | {c.size} | {c.reduced} of {c.frames} | {c.same_classes} "
            f"| {iou} | {c.detections} | {_pair(c.truth_iou_whole, c.truth_iou_scaled)} "
            f"| {c.decode_ms_whole:.1f} / {c.decode_ms_scaled:.1f} "
            f"| {'yes' if c.passed else '**no**'} |"
        )
    return "\n".join(rows)


def _pair(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a:.3f} / {b:.3f}"


def main(argv: Sequence[str] | None = None) -> CheckResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="model id (repeatable)")
    parser.add_argument("--models-dir", type=Path, help="a folder of model packages")
    parser.add_argument("--frames", type=int, default=8, help="frames per size")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.models_dir:
        overrides = {"local_models_dir": args.models_dir, "weight_sources": ["local"]}
    store = package_store(weight_sources(ServerSettings(**overrides)))  # type: ignore[arg-type]
    comparisons = [
        c
        for model_id in args.model or BUNDLED
        for c in compare_model(model_id, store, args.frames, args.jpeg_quality)
    ]
    result = CheckResult(comparisons)
    text = markdown(result)
    print(text)
    if args.out:
        save_record(result, args.out, echo=False)
        args.out.with_suffix(".md").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
