"""Which layout a forward pass runs on: the lone one only while no other pass runs in
the process, whatever model it is for; engines without one run as always."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from serve_app.engines.onnxruntime import OnnxRuntimeEngine
from serve_app.engines.passes import ForwardPasses, LoneCapable, infer_counted
from tests.engines.test_onnxruntime_engine import _calls, identity_model

IMAGES = np.zeros((1, 4, 5, 3), np.uint8)


class Plain:
    """An engine without a lone layout, that records its passes and can hold one open."""

    name = "plain"
    device = "cpu"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        return self._pass("beside")

    def _pass(self, kind: str) -> list[np.ndarray]:
        self.calls.append(kind)
        self.entered.set()
        self.release.wait(10)
        return [np.zeros(1)]


class Recorder(Plain):
    """The same, with a lone layout."""

    def infer_alone(self, images: np.ndarray) -> list[np.ndarray]:
        return self._pass("alone")


def test_a_pass_is_alone_only_while_no_other_runs() -> None:
    passes = ForwardPasses()
    slow, quick = Recorder(), Recorder()
    slow.release.clear()
    worker = threading.Thread(target=infer_counted, args=(slow, IMAGES, passes))
    worker.start()
    assert slow.entered.wait(10)
    infer_counted(quick, IMAGES, passes)  # another model's pass, meanwhile
    slow.release.set()
    worker.join(10)
    infer_counted(quick, IMAGES, passes)  # the first has ended: alone again
    assert slow.calls == ["alone"]
    assert quick.calls == ["beside", "alone"]


def test_engines_without_a_lone_layout_run_as_always() -> None:
    engine = Plain()
    assert not isinstance(engine, LoneCapable)
    infer_counted(engine, IMAGES, ForwardPasses())
    assert engine.calls == ["beside"]


def test_the_onnxruntime_engine_answers_a_lone_pass_on_its_wide_session(tmp_path: Path) -> None:
    engine = OnnxRuntimeEngine(identity_model(tmp_path / "m.onnx", None), None, 1, lone_threads=2)
    assert isinstance(engine, LoneCapable)
    calls = _calls(engine)
    passes = ForwardPasses()
    infer_counted(engine, IMAGES, passes)
    assert calls == {"session": 0, "lone_session": 1}
    with passes.running():  # another pass in flight
        infer_counted(engine, IMAGES, passes)
    assert calls == {"session": 1, "lone_session": 1}


def test_a_model_replica_runs_a_lone_batch_on_the_wide_session() -> None:
    """The served path: a batch run alone by a loaded model takes the lone session."""
    from serve_app.core.engines import EngineOptions
    from serve_app.core.frames import FrameTransform
    from serve_app.core.requests import ImageBatch, InferenceParams
    from serve_app.engines.factory import OnnxEngineFactory
    from serve_app.replica.loaded_model import LoadedModel
    from tests.engines.models import bundled_package

    options = EngineOptions(backend="onnxruntime", num_threads=1, lone_threads=2)
    model = LoadedModel.load(bundled_package("shapes-detection/1"), OnnxEngineFactory(options, 1))
    engine = model.engine
    assert isinstance(engine, OnnxRuntimeEngine)
    calls = _calls(engine)
    pixels = np.zeros((1, 320, 320, 3), np.uint8)
    model.run_batch(ImageBatch(pixels, (FrameTransform(320, 320),), (InferenceParams(),)))
    assert calls == {"session": 0, "lone_session": 1}
