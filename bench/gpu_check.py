"""GPU check: the model replica's own path on one device, in process, without Ray.

    python -m bench.gpu_check --out bench/results/gpu-check            # on a CUDA machine
    python -m bench.gpu_check --device cpu --seconds 0.5 --batches 1 4  # the same, on CPU

1. **correctness**: every bundled model through ``LoadedModel.run_batch`` on the torch
   engine's built form (traced programs; CUDA graphs on CUDA), FP32 and FP16, against
   ONNX Runtime on CPU: the same classes, box IoU ≥ 0.95, mask IoU ≥ 0.9.
2. **throughput**, on the detector's architecture at ``--size`` (640 by default,
   untrained weights: ``tools/export_timing_model.py``), at each of ``--batches``:
   the raw engine (``DeviceEngine.forward`` on images already on the device), the
   replica path from network-size uint8 host images (what the CPU preprocessing stage
   sends: upload, normalise, engine, device decoding), and the replica path from
   decoded images resized on the device; CUDA graphs on and off.
3. **JPEG decoding** of camera-sized frames (``--jpeg-sizes``, 1080p and 4K by default,
   ``bench/photos.py``): OpenCV on the CPU, whole and at the scale the server decodes
   for a 320x320 network (``serve_app/preprocessing``: 1/2 at 1080p, 1/4 at 4K),
   against nvJPEG (torchvision) on CUDA, whole.

It imports no Ray, pydantic or boto3 (none is on the GPU check machine): only torch,
torchvision, onnx, onnxruntime, NumPy, OpenCV and ``serve_app``'s replica path. Writes
``OUT.json`` and ``OUT.md`` with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from bench.device_resize import prepare_on_device  # noqa: E402
from bench.photos import PHOTO_CACHE, SIZES, FrameSize, photo_files  # noqa: E402
from serve_app.core.engines import DeviceKind, EngineOptions, Precision  # noqa: E402
from serve_app.core.ids import ModelId  # noqa: E402
from serve_app.core.predictions import Classification, Detections, Prediction  # noqa: E402
from serve_app.core.requests import ImageBatch, InferenceParams, PreprocessOptions  # noqa: E402
from serve_app.core.spec import ModelPackage, ModelSpec  # noqa: E402
from serve_app.decoders.base import ModelHead  # noqa: E402
from serve_app.decoders.registry import decoder_for  # noqa: E402
from serve_app.device.decoding import DeviceDecoder, device_decoder_for  # noqa: E402
from serve_app.engines.base import DeviceEngine  # noqa: E402
from serve_app.engines.builds import optimised_build  # noqa: E402
from serve_app.engines.factory import OnnxEngineFactory  # noqa: E402
from serve_app.engines.selection import select_engine  # noqa: E402
from serve_app.preprocessing.jpeg_scale import reduced_scale  # noqa: E402
from serve_app.preprocessing.prepare import prepare_image  # noqa: E402
from serve_app.replica.engine_switch import EngineSwitch  # noqa: E402
from serve_app.replica.loaded_model import LoadedModel  # noqa: E402
from serve_app.weights.config import BUNDLED_MODELS_DIR  # noqa: E402
from serve_app.weights.package import read_package  # noqa: E402
from tools.shapes import box_iou, generate_scene  # noqa: E402

BUNDLED = ("shapes-detection/1", "shapes-segmentation/1", "shapes-classification/1")
SCENE_SEED = 3_000_000
TARGETS = "H200, YOLOv8n-class detector at 640x640, fp16"


@dataclass
class Check:
    model: str
    precision: str
    passed: bool
    images: int
    min_box_iou: float | None = None
    min_mask_iou: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Throughput:
    path: str
    batch: int
    cuda_graphs: bool
    images_per_s: float
    ms_per_batch: float


def package_at(folder: Path, model_id: str) -> ModelPackage:
    mid = ModelId.parse(model_id)
    return read_package(mid, folder / mid.relative_path)


def built_model(package: ModelPackage, options: EngineOptions, max_batch_size: int) -> LoadedModel:
    """The model on its built torch engine, as a replica runs it once the build is done."""
    selection = select_engine(options)
    build = optimised_build(options, package, selection, max_batch_size=max_batch_size)
    if build is None:
        raise SystemExit(f"no torch build for {package.spec.model_id}: {selection}")
    engine, _ = build.run(None, lambda state, progress: None)
    spec = package.spec
    return LoadedModel(spec, EngineSwitch(engine), decoder_for(spec), ModelHead.from_spec(spec))


def scene_batch(spec: ModelSpec, count: int) -> tuple[ImageBatch, list[np.ndarray]]:
    scenes = [generate_scene(SCENE_SEED + i) for i in range(count)]
    prepared = [prepare_image(s.image, spec, PreprocessOptions()) for s in scenes]
    batch = ImageBatch(
        np.stack([p[0] for p in prepared]),
        tuple(p[1] for p in prepared),
        (InferenceParams(),) * count,
    )
    return batch, [s.image for s in scenes]


def mask_iou(a: np.ndarray, b: np.ndarray, height: int, width: int) -> float:
    masks = []
    for points in (a, b):
        mask = np.zeros((height, width), np.uint8)
        if len(points):
            cv2.fillPoly(mask, [np.round(points - 0.5).astype(np.int32)], 1)
        masks.append(mask.astype(bool))
    union = (masks[0] | masks[1]).sum()
    return float((masks[0] & masks[1]).sum() / union) if union else 1.0


def compare(check: Check, want: Prediction, got: Prediction) -> None:
    if isinstance(want, Classification) and isinstance(got, Classification):
        if want.predicted.tolist() != got.predicted.tolist():
            check.problems.append(f"classes {want.predicted.tolist()} != {got.predicted.tolist()}")
        return
    assert isinstance(want, Detections) and isinstance(got, Detections)
    if want.class_id.tolist() != got.class_id.tolist():
        check.problems.append(f"classes {want.class_id.tolist()} != {got.class_id.tolist()}")
        return
    for i in range(len(want)):
        iou = float(box_iou(want.xyxy[i], got.xyxy[i])[0, 0])
        check.min_box_iou = min(check.min_box_iou or 1.0, iou)
        if want.polygons is not None and got.polygons is not None:
            m = mask_iou(want.polygons[i], got.polygons[i], want.image_height, want.image_width)
            check.min_mask_iou = min(check.min_mask_iou or 1.0, m)


def check_correctness(device: DeviceKind, images: int) -> list[Check]:
    precisions: tuple[Precision, ...] = ("fp32", "fp16") if device == "cuda" else ("fp32",)
    checks = []
    for model_id in BUNDLED:
        package = package_at(BUNDLED_MODELS_DIR, model_id)
        batch, _ = scene_batch(package.spec, images)
        onnx_cpu = EngineOptions(backend="onnxruntime", device="cpu")
        reference = LoadedModel.load(package, OnnxEngineFactory(onnx_cpu, images))
        want = reference.run_batch(batch)
        for precision in precisions:
            options = EngineOptions(backend="torch", device=device, precision=precision)
            got = built_model(package, options, images).run_batch(batch)
            check = Check(model_id, precision, True, images)
            for w, g in zip(want, got, strict=True):
                compare(check, w, g)
            check.passed = (
                not check.problems
                and (check.min_box_iou is None or check.min_box_iou >= 0.95)
                and (check.min_mask_iou is None or check.min_mask_iou >= 0.9)
            )
            checks.append(check)
            print(f"  {model_id} {precision}: {'pass' if check.passed else 'FAIL'} {asdict(check)}")
    return checks


def timed(run: Callable[[], object], seconds: float, sync: Callable[[], None]) -> float:
    """Seconds per call of ``run``, after warm-up, over about ``seconds``."""
    for _ in range(3):
        run()
    sync()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
        calls += 1
    sync()
    return (time.perf_counter() - start) / calls


def replica_paths(
    model: LoadedModel, decoder: DeviceDecoder, head: ModelHead, size: int
) -> dict[str, Callable[[], object]]:
    """What is timed at one batch size: the engine alone, and the replica's two paths."""
    engine = model.engine
    assert isinstance(engine, DeviceEngine)
    target = torch.device(engine.device)
    batch, decoded = scene_batch(model.spec, size)
    on_device = torch.from_numpy(batch.pixels).to(target).permute(0, 3, 1, 2)
    rgb = [np.ascontiguousarray(image[:, :, ::-1]) for image in decoded]

    def device_resized() -> object:
        pixels, frames = prepare_on_device(rgb, model.spec, target)
        return decoder(engine.forward(pixels), frames, batch.params, head)

    return {
        "raw engine": lambda: engine.forward(on_device),
        "replica, uint8 at network size in": lambda: model.run_batch(batch),
        "replica, decoded images resized on device": device_resized,
    }


def measure_throughput(
    package: ModelPackage, device: DeviceKind, batches: list[int], seconds: float
) -> list[Throughput]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    graph_settings = (True, False) if device == "cuda" else (False,)
    precision: Precision = "fp16" if device == "cuda" else "fp32"
    results = []
    decoder = device_decoder_for(package.spec)
    assert decoder is not None
    head = ModelHead.from_spec(package.spec)
    for graphs in graph_settings:
        options = EngineOptions(
            backend="torch",
            device=device,
            precision=precision,
            cuda_graphs=graphs,
        )
        model = built_model(package, options, max(batches))
        for size in batches:
            for path, run in replica_paths(model, decoder, head, size).items():
                per_call = timed(run, seconds, sync)
                result = Throughput(path, size, graphs, size / per_call, per_call * 1e3)
                results.append(result)
                print(f"  {path}, batch {size}, graphs {graphs}: {result.images_per_s:.0f} img/s")
    return results


def _no_sync() -> None:
    """CPU work is done when the call returns."""


def _served_scale(size: FrameSize, network_side: int = 320) -> tuple[int, int]:
    """The scale the server decodes a frame at for a square network, and its flag."""
    served = reduced_scale(size.width, size.height, (network_side, network_side))
    return served or (1, cv2.IMREAD_COLOR)


def _decoding_ms(
    device: str, jpegs: list[np.ndarray], served: tuple[int, int], seconds: float
) -> dict[str, float]:
    scale, flag = served
    whole = timed(lambda: [cv2.imdecode(j, cv2.IMREAD_COLOR) for j in jpegs], seconds, _no_sync)
    scaled = timed(lambda: [cv2.imdecode(j, flag) for j in jpegs], seconds, _no_sync)
    row = {"opencv (cpu)": whole, f"opencv 1/{scale} (cpu)": scaled}
    if device == "cuda":
        from torchvision.io import decode_jpeg

        data = [torch.from_numpy(j.copy()) for j in jpegs]
        row["nvjpeg (torchvision, cuda)"] = timed(
            lambda: decode_jpeg(data, device="cuda"), seconds, torch.cuda.synchronize
        )
    return {name: per_batch * 1e3 / len(jpegs) for name, per_batch in row.items()}


def measure_jpeg_decoding(
    device: str, sizes: list[FrameSize], count: int, seconds: float
) -> dict[str, dict[str, float]]:
    """ms per image by frame size: OpenCV on the CPU whole and scaled as served, and
    torchvision's nvJPEG decoder on CUDA."""
    figures = {}
    for size in sizes:
        jpegs = [np.frombuffer(f, np.uint8) for f in photo_files(size, count, 90, PHOTO_CACHE)]
        figures[size.label] = _decoding_ms(device, jpegs, _served_scale(size), seconds)
    return figures


def targets(results: list[Throughput]) -> dict[str, Any]:
    """The issue's targets, judged on the best figures with CUDA graphs on."""

    def best(path: str, batch: int) -> Throughput | None:
        found = [r for r in results if r.path == path and r.batch == batch and r.cuda_graphs]
        return max(found, key=lambda r: r.images_per_s, default=None)

    raw32, replica32 = best("raw engine", 32), best("replica, uint8 at network size in", 32)
    replica1 = best("replica, uint8 at network size in", 1)
    out: dict[str, Any] = {"for": TARGETS}
    if raw32 and replica32:
        ratio = replica32.images_per_s / raw32.images_per_s
        out["replica / raw at batch 32 >= 0.8"] = [round(ratio, 3), ratio >= 0.8]
        out["replica >= 3000 img/s at batch 32"] = [
            round(replica32.images_per_s),
            replica32.images_per_s >= 3000,
        ]
    if replica1:
        out["replica <= 2 ms at batch 1"] = [
            round(replica1.ms_per_batch, 3),
            replica1.ms_per_batch <= 2,
        ]
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# GPU check: {report['device_name']} ({report['device']})", ""]
    lines += [
        "| model | precision | pass | min box IoU | min mask IoU | problems |",
        "|---|---|---|---|---|---|",
    ]
    for c in report["correctness"]:
        lines.append(
            f"| {c['model']} | {c['precision']} | {'yes' if c['passed'] else 'NO'} | "
            f"{c['min_box_iou']} | {c['min_mask_iou']} | {'; '.join(c['problems'])} |"
        )
    lines += [
        "",
        f"Throughput, {report['size']}x{report['size']} detector, {report['precision']}:",
        "",
    ]
    lines += ["| path | batch | CUDA graphs | img/s | ms / batch |", "|---|---|---|---|---|"]
    for t in report["throughput"]:
        lines.append(
            f"| {t['path']} | {t['batch']} | {t['cuda_graphs']} | "
            f"{t['images_per_s']:.0f} | {t['ms_per_batch']:.3f} |"
        )
    lines += ["", "JPEG decoding, ms per image:"]
    for label, row in report["jpeg_decode_ms"].items():
        lines.append(f"- {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    lines += ["", "Targets: " + json.dumps(report["targets"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--size", type=int, default=640, help="detector input side for timing")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput point")
    parser.add_argument("--images", type=int, default=8, help="per correctness check")
    parser.add_argument(
        "--jpeg-sizes", nargs="+", choices=sorted(SIZES), default=["1920x1080", "3840x2160"]
    )
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device here: skipping the CUDA checks. `--device cpu` runs them on CPU.")
        return
    torch.backends.cudnn.benchmark = True
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor()
    print(f"torch {torch.__version__} on {device_name}")
    print("correctness against ONNX Runtime on CPU:")
    checks = check_correctness(args.device, args.images)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        from tools.export_timing_model import export_timing_model

        package_dir = export_timing_model(Path(folder), args.size)
        package = package_at(Path(folder), f"{package_dir.parent.name}/{package_dir.name}")
        print(f"throughput, {args.size}x{args.size}:")
        throughput = measure_throughput(package, args.device, args.batches, args.seconds)
    report = {
        "device": args.device,
        "device_name": device_name,
        "torch": torch.__version__,
        "size": args.size,
        "precision": "fp16" if args.device == "cuda" else "fp32",
        "correctness": [asdict(c) for c in checks],
        "throughput": [asdict(t) for t in throughput],
        "jpeg_decode_ms": measure_jpeg_decoding(
            args.device, [SIZES[s] for s in args.jpeg_sizes], 4, min(args.seconds, 1.0)
        ),
    }
    report["targets"] = targets(throughput)
    print(json.dumps(report["targets"]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
        args.out.with_suffix(".md").write_text(markdown(report))
    if not all(c.passed for c in checks):
        raise SystemExit("correctness check failed")


if __name__ == "__main__":
    main()
