"""The GPU data path gives the NumPy path's answers: each torch step against its
NumPy counterpart on CPU tensors (resize and letterbox, box selection, masks), then
whole batches of the bundled and fixture models decoded both ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.device_resize import prepare_on_device, resize_on_device
from serve_app.core.engines import EngineOptions
from serve_app.core.frames import ResizeMode
from serve_app.core.predictions import Detections
from serve_app.core.requests import ImageBatch, InferenceParams, MaskDecodeMode, PreprocessOptions
from serve_app.decoders.boxes import select_detections
from serve_app.decoders.masks import instance_polygons
from serve_app.device.boxes import select_on_device
from serve_app.device.decoding import device_decoder_for
from serve_app.device.masks import polygons_on_device
from serve_app.engines.factory import OnnxEngineFactory
from serve_app.preprocessing.prepare import prepare_image
from serve_app.preprocessing.transforms import resize_to_input
from serve_app.replica.loaded_model import LoadedModel
from tests.engines.test_torch_engine import package_of
from tools.shapes import generate_scene

CLASSES = ("a", "b", "c")


@pytest.mark.parametrize("mode", list(ResizeMode))
@pytest.mark.parametrize("size", [(639, 539), (200, 50), (320, 320), (33, 700)])
def test_device_resize_matches_opencv(mode: ResizeMode, size: tuple[int, int]) -> None:
    w, h = size
    image = np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    want, want_frame = resize_to_input(image, 320, 256, mode)
    got, frame = resize_on_device(torch.from_numpy(image), 320, 256, mode)
    assert frame == want_frame
    # OpenCV's fixed-point bilinear rounds differently by at most one level.
    difference = np.abs(got.permute(1, 2, 0).numpy() - want.astype(np.float32))
    assert difference.max() <= 1.0
    assert difference.mean() < 0.25  # random noise: the worst case for rounding


def _candidates(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    xyxy = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    return xyxy, rng.uniform(0, 1, n).astype(np.float32), rng.integers(0, 3, n).astype(np.int64)


@pytest.mark.parametrize(
    "params",
    [
        InferenceParams(),
        InferenceParams(confidence=0.05, iou_threshold=0.5),
        InferenceParams(class_agnostic_nms=True),
        InferenceParams(class_filter=("b", "c"), max_detections=5),
        InferenceParams(confidence=1.1),  # nothing passes
    ],
    ids=["default", "low-confidence", "agnostic", "filtered", "none"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_device_selection_matches_numpy(params: InferenceParams, seed: int) -> None:
    xyxy, scores, class_id = _candidates(seed)
    want = select_detections(xyxy, scores, class_id, params, CLASSES)
    got = select_on_device(
        torch.from_numpy(xyxy),
        torch.from_numpy(scores),
        torch.from_numpy(class_id),
        params,
        CLASSES,
    )
    assert got.numpy().tolist() == want.tolist()


@pytest.mark.parametrize("resolution", [(80, 80), (200, 200), (320, 320)])
def test_device_masks_match_numpy(resolution: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    prototypes = rng.normal(0, 3, (8, 80, 80)).astype(np.float32)
    coefficients = rng.normal(0, 1, (5, 8)).astype(np.float32)
    xyxy, _, _ = _candidates(4, n=5)
    want = instance_polygons(coefficients, prototypes, xyxy, resolution, (320, 320))
    got = polygons_on_device(
        torch.from_numpy(coefficients),
        torch.from_numpy(prototypes),
        torch.from_numpy(xyxy),
        resolution,
        (320, 320),
    )
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-4)


def _batch(package_id: str, fixture_models_dir: Path, params: InferenceParams) -> tuple:
    package = package_of(package_id, fixture_models_dir)
    scenes = [generate_scene(1_000_000 + i).image for i in range(4)]
    prepared = [prepare_image(s, package.spec, PreprocessOptions()) for s in scenes]
    pixels = np.stack([p[0] for p in prepared])
    return package, ImageBatch(pixels, tuple(p[1] for p in prepared), (params,) * len(scenes))


@pytest.mark.parametrize(
    "model_id",
    ["shapes-detection/1", "shapes-segmentation/1", "fixture-yolov8-seg/2", "fixture-yolov5/1"],
)
@pytest.mark.parametrize("mode", [MaskDecodeMode.ACCURATE, MaskDecodeMode.FAST])
def test_replica_path_on_torch_answers_as_onnx_runtime(
    model_id: str, mode: MaskDecodeMode, fixture_models_dir: Path
) -> None:
    params = InferenceParams(confidence=0.1, mask_decode_mode=mode)
    package, batch = _batch(model_id, fixture_models_dir, params)
    assert device_decoder_for(package.spec) is not None
    host = LoadedModel.load(package, OnnxEngineFactory(EngineOptions(backend="onnxruntime"), 8))
    torch_cpu = EngineOptions(backend="torch", device="cpu")
    device = LoadedModel.load(package, OnnxEngineFactory(torch_cpu, 8))
    for want, got in zip(host.run_batch(batch), device.run_batch(batch), strict=True):
        assert isinstance(want, Detections) and isinstance(got, Detections)
        assert got.class_id.tolist() == want.class_id.tolist()
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.05)
        np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-4)
        for g, w in zip(got.polygons or [], want.polygons or [], strict=True):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, atol=0.05)


def test_device_preparation_matches_the_cpu_stage(fixture_models_dir: Path) -> None:
    package = package_of("shapes-detection/1", fixture_models_dir)
    scenes = [generate_scene(7 + i).image for i in range(3)]
    rgb = [s[:, :, ::-1] for s in scenes]
    pixels, frames = prepare_on_device(rgb, package.spec, torch.device("cpu"))
    for scene, tensor, frame in zip(scenes, pixels, frames, strict=True):
        want, want_frame = prepare_image(scene, package.spec, PreprocessOptions())
        assert frame == want_frame
        assert np.abs(tensor.permute(1, 2, 0).numpy() - want).max() <= 1.0
