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


def _config(session: object, key: str) -> str | None:
    """A session's config entry; None where it was never set."""
    options = session.get_session_options()  # type: ignore[attr-defined]
    try:
        return str(options.get_session_config_entry(key))
    except RuntimeError:  # ONNX Runtime's answer for a key that was not set
        return None


def _calls(engine: OnnxRuntimeEngine) -> dict[str, int]:
    """Count the runs of each of the engine's sessions from now on."""
    counts = {"session": 0, "lone_session": 0}
    for name in counts:
        session = getattr(engine, name)
        run = session.run

        def counted(*args: object, _name: str = name, _run: object = run) -> object:
            counts[_name] += 1
            return _run(*args)  # type: ignore[operator]

        session.run = counted
    return counts


def test_a_lone_pass_has_its_own_wider_session(tmp_path: Path) -> None:
    engine = OnnxRuntimeEngine(identity_model(tmp_path / "m.onnx", None), None, 1, lone_threads=2)
    assert engine.lone_session is not None
    assert engine.session.get_session_options().intra_op_num_threads == 1
    assert engine.lone_session.get_session_options().intra_op_num_threads == 2
    for session in (engine.session, engine.lone_session):
        # One arena for both: the second session costs little memory.
        assert _config(session, "session.use_env_allocators") == "1"
        assert _config(session, "session.intra_op.allow_spinning") == "0"
    images = np.random.default_rng(1).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    calls = _calls(engine)
    (alone,) = engine.infer_alone(images)
    assert calls == {"session": 0, "lone_session": 1}
    (beside,) = engine.infer(images)
    assert calls == {"session": 1, "lone_session": 1}
    np.testing.assert_array_equal(alone, beside)
    assert (engine.threads(alone=True), engine.threads(alone=False)) == (2, 1)


@pytest.mark.parametrize(("threads", "lone"), [(1, 0), (1, 1), (2, 2), (0, 4)])
def test_no_lone_session_where_it_would_not_be_wider(
    tmp_path: Path, threads: int, lone: int
) -> None:
    model = identity_model(tmp_path / "m.onnx", None)
    engine = OnnxRuntimeEngine(model, None, threads, lone_threads=lone)
    assert engine.lone_session is None
    # Every CPU session shares the process's arena: a model holds no activations.
    assert _config(engine.session, "session.use_env_allocators") == "1"
    images = np.zeros((1, 4, 5, 3), np.uint8)
    np.testing.assert_array_equal(engine.infer_alone(images)[0], engine.infer(images)[0])
    assert engine.threads(alone=True) == engine.threads(alone=False) == threads
