"""The ONNX Runtime engine's side of the seam: uint8 NHWC RGB in, the network's input as
its spec describes it (scaled, normalised, NCHW), whatever the batch dimension."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from serve_app.core.spec import IMAGENET, UNNORMALIZED, InputNormalization
from serve_app.engines.onnxruntime import OnnxRuntimeEngine


def identity_model(path: Path, batch: int | None) -> Path:
    """A network that answers its own input: what the engine fed it, exactly."""
    shape = [batch if batch is not None else "batch", 3, 4, 5]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["output0"])],
        "identity",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("normalization", [UNNORMALIZED, IMAGENET])
@pytest.mark.parametrize("batch", [None, 1])
def test_the_network_sees_its_normalised_input(
    tmp_path: Path, normalization: InputNormalization, batch: int | None
) -> None:
    engine = OnnxRuntimeEngine(identity_model(tmp_path / "m.onnx", batch), batch, 1, normalization)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)  # three images, NHWC RGB
    (seen,) = engine.infer(images)
    mean = np.array(normalization.mean)[None, :, None, None]
    std = np.array(normalization.std)[None, :, None, None]
    expected = (images.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    assert seen.shape == (3, 3, 4, 5)  # a fixed batch of 1 ran three times
    np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-5)
