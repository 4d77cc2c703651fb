"""The torch engine against ONNX Runtime: the converted module and its traced form
answer what ONNX Runtime answers, on every bundled and fixture model, at any batch
size (padding to buckets, chunks past the largest), with the spec's normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from serve_app.core.engines import EngineOptions
from serve_app.core.ids import ModelId
from serve_app.core.spec import IMAGENET, UNNORMALIZED, InputNormalization, ModelPackage
from serve_app.engines import onnx_to_torch
from serve_app.engines.factory import create_engine, start_engine
from serve_app.engines.onnx_to_torch import ConversionError, convert_onnx
from serve_app.engines.selection import cuda_usable, select_engine
from serve_app.engines.torch_engine import TorchEngine, TorchSetup
from serve_app.weights.package import read_package
from tests.engines.models import BUNDLED, built_engine, bundled_package
from tests.engines.test_onnxruntime_engine import identity_model

FIXTURES = (
    "fixture-yolov8/1", "fixture-yolov8/3", "fixture-yolov5-seg/1", "fixture-yolov10/2",
    "fixture-yolonas/1", "fixture-classification/2",
    "fixture-constant-weights/1",  # every weight a Constant node, as PaddlePaddle exports
)  # fmt: skip


def package_of(model_id: str, fixture_models_dir: Path) -> ModelPackage:
    if model_id in BUNDLED:
        return bundled_package(model_id)
    return read_package(ModelId.parse(model_id), fixture_models_dir / model_id)


def images_for(package: ModelPackage, count: int, seed: int = 0) -> np.ndarray:
    spec = package.spec
    shape = (count, spec.input_height, spec.input_width, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def assert_same_outputs(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert [o.shape for o in got] == [o.shape for o in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("model_id", [*BUNDLED, *FIXTURES])
def test_converted_and_traced_engines_answer_as_onnx_runtime(
    model_id: str, fixture_models_dir: Path
) -> None:
    package = package_of(model_id, fixture_models_dir)
    options = EngineOptions(backend="torch", device="cpu")
    selection = select_engine(options)
    reference = create_engine(EngineOptions(backend="onnxruntime"), package)
    converted = create_engine(options, package, selection)
    traced = built_engine(options, package, selection, max_batch_size=4)
    assert (converted.name, traced.name) == ("torch", "torch-trace")
    # 3 pads to the bucket of 4; 6 runs as 4 + 2. A fixed batch of 1 runs image by image.
    for count in (1, 3, 6):
        images = images_for(package, count, seed=count)
        want = reference.infer(images)
        assert_same_outputs(converted.infer(images), want)
        assert_same_outputs(traced.infer(images), want)


@pytest.mark.parametrize("normalization", [UNNORMALIZED, IMAGENET])
def test_the_network_sees_its_normalised_input(
    tmp_path: Path, normalization: InputNormalization
) -> None:
    weights = identity_model(tmp_path / "m.onnx", None)
    setup = TorchSetup(torch.device("cpu"), torch.float32, normalization, (4, 5))
    engine = TorchEngine("torch", setup, convert_onnx(weights, setup))
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    (seen,) = engine.infer(images)
    mean = np.array(normalization.mean)[None, :, None, None]
    std = np.array(normalization.std)[None, :, None, None]
    expected = (images.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-5)


def test_an_unconvertible_network_is_named_and_served_by_onnx_runtime(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["x"]), helper.make_node("Det", ["x"], ["y"])],
        "det",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["b", 3, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b"])],
    )
    weights = tmp_path / "weights.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(weights))
    setup = TorchSetup(torch.device("cpu"), torch.float32, UNNORMALIZED, (2, 2))
    with pytest.raises(ConversionError, match="Det"):
        convert_onnx(weights, setup)


def test_any_failure_to_make_the_torch_engine_falls_back_to_onnx_runtime(
    fixture_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(weights: Path, setup: TorchSetup) -> torch.nn.Module:
        raise RuntimeError("converter broke")

    monkeypatch.setattr(onnx_to_torch, "convert_onnx", broken)
    package = package_of("fixture-classification/1", fixture_models_dir)
    options = EngineOptions(backend="torch", device="cpu")
    engine, fallback = start_engine(options, package, select_engine(options))
    assert engine.name == "onnxruntime"
    assert fallback is not None and "RuntimeError: converter broke" in fallback
    images = images_for(package, 2)
    reference = create_engine(EngineOptions(backend="onnxruntime"), package)
    assert_same_outputs(engine.infer(images), reference.infer(images))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("cuda_graphs", [False, True])
def test_cuda_engine_answers_as_onnx_runtime(precision: str, cuda_graphs: bool) -> None:
    if not cuda_usable():
        pytest.skip("needs a CUDA device")
    package = bundled_package("shapes-detection/1")
    options = EngineOptions(
        backend="torch",
        precision=precision,
        cuda_graphs=cuda_graphs,
    )
    selection = select_engine(options)
    assert selection.device == "cuda"
    engine = built_engine(options, package, selection, max_batch_size=8)
    images = images_for(package, 5)
    want = create_engine(EngineOptions(backend="onnxruntime"), package).infer(images)
    tolerance = 5e-2 if precision == "fp16" else 1e-3
    for g, w in zip(engine.infer(images), want, strict=True):
        np.testing.assert_allclose(g, w, rtol=tolerance, atol=tolerance)
