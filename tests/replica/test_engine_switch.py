"""The optimised engine builds behind the one serving and takes over between two
batches: a batch in flight finishes on its engine, no request fails while the swap
happens under load, and a failed build leaves the model serving."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from serve_app.core.engines import EngineOptions, EngineStatus
from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId
from serve_app.core.predictions import Detections, Prediction
from serve_app.core.requests import ImageBatch, InferenceParams
from serve_app.core.spec import ModelPackage
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import decoder_for
from serve_app.engines.base import Engine
from serve_app.engines.builds import EngineBuild, optimised_build
from serve_app.engines.factory import create_engine
from serve_app.engines.selection import select_engine
from serve_app.engines.store import EngineStore
from serve_app.preprocessing.transforms import resize_to_input
from serve_app.replica import engine_switch
from serve_app.replica.engine_switch import EngineSwitch
from serve_app.replica.loaded_model import LoadedModel
from serve_app.weights.package import read_package

MODEL = "fixture-yolov8/1"
REDS = (250, 130, 200, 160)
LETTERBOX = ResizeMode.FIT_BLACK


class HeldEngine:
    """The serving engine, made to hold a batch until the test lets it go."""

    def __init__(self, inner: Engine) -> None:
        self.name, self.device = "held", inner.device
        self._inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        self.entered.set()
        assert self.release.wait(60)
        return self._inner.infer(images)


def gated(build: EngineBuild, gate: threading.Event, fail: bool = False) -> EngineBuild:
    """``build``, started only once ``gate`` is set: a build as slow as the test wants."""

    def slow(folder: Path, progress: Callable[[float], None]) -> None:
        assert gate.wait(60)
        if fail:
            raise RuntimeError("the build ran out of memory")
        build.build(folder, progress)

    return EngineBuild(build.package, build.key, slow, build.load)


@pytest.fixture
def package(fixture_models_dir: Path) -> ModelPackage:
    return read_package(ModelId.parse(MODEL), fixture_models_dir / MODEL)


def model_with(package: ModelPackage, live: Engine, build: EngineBuild, tmp: Path) -> LoadedModel:
    switch = EngineSwitch(live, build, EngineStore(tmp))
    return LoadedModel(
        package.spec, switch, decoder_for(package.spec), ModelHead.from_spec(package.spec)
    )


def red_batch() -> ImageBatch:
    prepared = [
        resize_to_input(np.full((320, 320, 3), (red, 0, 0), np.uint8), 320, 320, LETTERBOX)
        for red in REDS
    ]
    return ImageBatch(
        np.stack([p[0] for p in prepared]),
        tuple(p[1] for p in prepared),
        (InferenceParams(),) * len(REDS),
    )


def red_scores(predictions: list[Prediction]) -> list[float]:
    scores = []
    for p in predictions:
        assert isinstance(p, Detections)
        (red,) = [c for c, k in zip(p.confidence, p.class_id, strict=True) if k == 0]
        scores.append(float(red))
    return scores


def torch_build(package: ModelPackage) -> EngineBuild:
    options = EngineOptions(backend="torch", device="cpu")
    build = optimised_build(options, package, select_engine(options), max_batch_size=4)
    assert build is not None
    return build


def test_the_swap_lands_between_batches(package: ModelPackage, tmp_path: Path) -> None:
    held = HeldEngine(create_engine(EngineOptions(backend="onnxruntime"), package))
    gate = threading.Event()
    model = model_with(package, held, gated(torch_build(package), gate), tmp_path)
    model.engines.start()
    status = model.engines.status()
    assert status.live == "held"
    assert status.build is not None and status.build.state in {"queued", "waiting", "building"}
    held.release.clear()
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(model.run_batch, red_batch())
        assert held.entered.wait(60)  # a batch is running on the first engine
        gate.set()
        assert model.engines.wait(60), held.release.set()
        status = model.engines.status()
        assert (status.live, status.build.state, status.build.origin) == (  # type: ignore[union-attr]
            "torch-trace", "ready", "built",
        )  # fmt: skip
        # The next batch runs on the new engine while the first is still held.
        after = red_scores(model.run_batch(red_batch()))
        assert not in_flight.done()
        held.release.set()
        before = red_scores(in_flight.result(60))
    expected = [r / 255 for r in REDS]
    assert before == pytest.approx(expected, abs=2e-3)
    assert after == pytest.approx(expected, abs=2e-3)


def test_no_batch_fails_while_the_engine_is_swapped_under_load(
    package: ModelPackage, tmp_path: Path
) -> None:
    gate = threading.Event()
    interim = create_engine(EngineOptions(backend="torch", device="cpu"), package)
    model = model_with(package, interim, gated(torch_build(package), gate), tmp_path)
    model.engines.start()
    served: list[str] = []
    stop = threading.Event()

    def client() -> list[list[float]]:
        answers = []
        while not stop.is_set():
            served.append(model.engines.live.name)
            answers.append(red_scores(model.run_batch(red_batch())))
        return answers

    with ThreadPoolExecutor(3) as pool:
        clients = [pool.submit(client) for _ in range(3)]
        while len(served) < 6:
            assert all(not c.done() for c in clients)
        gate.set()
        assert model.engines.wait(60)
        seen = len(served)
        while len(served) < seen + 6:
            assert all(not c.done() for c in clients)
        stop.set()
        results = [answer for c in clients for answer in c.result(60)]
    assert {"torch", "torch-trace"} <= set(served)
    for scores in results:
        assert scores == pytest.approx([r / 255 for r in REDS], abs=2e-3)


def test_a_failed_build_is_reported_and_the_model_keeps_serving(
    package: ModelPackage, tmp_path: Path
) -> None:
    gate = threading.Event()
    gate.set()
    interim = create_engine(EngineOptions(backend="onnxruntime"), package)
    changes: list[str] = []
    model = model_with(package, interim, gated(torch_build(package), gate, fail=True), tmp_path)
    model.engines.start(lambda: changes.append(model.engines.status().build.state))  # type: ignore[union-attr]
    assert model.engines.wait(60)
    status = model.engines.status()
    assert status.live == "onnxruntime"
    assert status.build is not None and status.build.state == "failed"
    assert "ran out of memory" in (status.build.error or "")
    assert changes[-1] == "failed"
    assert red_scores(model.run_batch(red_batch())) == pytest.approx(
        [r / 255 for r in REDS], abs=2e-3
    )


def test_the_new_engine_is_never_seen_without_its_ready_state(
    package: ModelPackage, tmp_path: Path
) -> None:
    """The registry polls replicas at any moment, the swap's own log line included: a
    status naming the new engine must already say the build is ready and where the
    engine came from."""
    gate = threading.Event()
    gate.set()
    interim = create_engine(EngineOptions(backend="onnxruntime"), package)
    model = model_with(package, interim, gated(torch_build(package), gate), tmp_path)
    seen: list[EngineStatus] = []

    class Snapshot(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(model.engines.status())

    log = engine_switch.logger
    handler, level = Snapshot(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        model.engines.start(lambda: seen.append(model.engines.status()))
        assert model.engines.wait(60)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert seen[-1].live == "torch-trace"
    for status in seen:
        assert status.build is not None
        if status.live == "torch-trace":
            assert (status.build.state, status.build.origin) == ("ready", "built")
        else:
            assert status.build.state != "ready"
