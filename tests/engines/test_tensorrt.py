"""The TensorRT engine's logic that runs without a GPU: its optimisation profile, its
cache key and the fallback where TensorRT is missing. Building and running an engine
needs CUDA and TensorRT (the ``gpu`` test at the end)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from serve_app.core.engines import DeviceIdentity, EngineKey, EngineOptions
from serve_app.engines.builds import file_sha256, optimised_build
from serve_app.engines.factory import create_engine
from serve_app.engines.selection import installed, select_engine
from serve_app.engines.tensorrt import batch_profile
from tests.engines.models import built_engine, bundled_package

KEY = EngineKey(
    onnx_sha256="ab" * 32,
    backend="tensorrt",
    backend_version="10.13.0",
    device=DeviceIdentity("NVIDIA H200", "9.0"),
    precision="fp16",
    batch_profile=(1, 32, 32),
    variant="workspace 4096 MiB",
)


@pytest.mark.parametrize(
    ("fixed", "max_batch", "expected"),
    [(None, 32, (1, 32, 32)), (None, 1, (1, 1, 1)), (1, 32, (1, 1, 1)), (4, 8, (4, 4, 4))],
)
def test_profile_spans_one_to_the_batch_limit_unless_the_batch_is_fixed(
    fixed: int | None, max_batch: int, expected: tuple[int, int, int]
) -> None:
    profile = batch_profile(fixed, max_batch)
    assert (profile.min, profile.opt, profile.max) == expected
    assert profile.shapes(640, 480)[2] == (expected[2], 3, 640, 480)


@pytest.mark.parametrize(
    "change",
    [
        {"onnx_sha256": "cd" * 32},
        {"backend_version": "10.14.0"},
        {"device": DeviceIdentity("NVIDIA A100-SXM4-80GB", "8.0")},
        {"device": DeviceIdentity("NVIDIA H200", "9.1")},
        {"precision": "fp32"},
        {"batch_profile": (1, 16, 16)},
        {"variant": "workspace 1024 MiB"},
    ],
)
def test_every_build_input_changes_the_key(change: dict[str, object]) -> None:
    other = replace(KEY, **change)  # type: ignore[arg-type]
    assert other.name != KEY.name
    assert replace(KEY).name == KEY.name  # and the same inputs give the same key
    assert KEY.name.startswith("tensorrt-fp16-")


def test_the_key_hashes_the_network_file(tmp_path: Path) -> None:
    weights = bundled_package("shapes-detection/1").weights_path
    copy = tmp_path / "weights.onnx"
    copy.write_bytes(weights.read_bytes())
    assert file_sha256(copy) == file_sha256(weights)
    copy.write_bytes(weights.read_bytes() + b"\0")
    assert file_sha256(copy) != file_sha256(weights)


@pytest.mark.skipif(installed("tensorrt"), reason="TensorRT is installed here")
def test_without_tensorrt_a_tensorrt_config_serves_and_builds_on_torch() -> None:
    package = bundled_package("shapes-detection/1")
    options = EngineOptions(backend="tensorrt")
    selection = select_engine(options)
    assert selection.backend == "torch"
    assert selection.fallback is not None and "TensorRT" in selection.fallback
    engine = create_engine(options, package, selection)
    build = optimised_build(options, package, selection, max_batch_size=2)
    assert (engine.name, build and build.backend) == ("torch", "torch-trace")
    images = np.zeros((1, 320, 320, 3), np.uint8)
    assert engine.infer(images)[0].shape == (1, 7, 2100)


@pytest.mark.gpu
def test_tensorrt_engine_matches_onnx_runtime(tmp_path: Path) -> None:
    from serve_app.engines.selection import cuda_usable

    if not (cuda_usable() and installed("tensorrt")):
        pytest.skip("needs a CUDA device and TensorRT")
    package = bundled_package("shapes-detection/1")
    options = EngineOptions(backend="tensorrt", precision="fp32")
    selection = select_engine(options)
    engine = built_engine(options, package, selection, max_batch_size=4)
    reference = create_engine(EngineOptions(backend="onnxruntime"), package)
    images = np.random.default_rng(0).integers(0, 256, (3, 320, 320, 3), dtype=np.uint8)
    np.testing.assert_allclose(engine.infer(images)[0], reference.infer(images)[0], atol=1e-2)
