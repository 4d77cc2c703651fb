"""A server on the torch engine (``engine.backend: torch``, on CPU): every bundled
model answers through HTTP as ONNX Runtime does, and the detector's traced engine,
held back by another "replica" holding its build lock, takes over under concurrent
load without one failed request, as ``/model/registry`` reports. Networks other
exporters wrote are converted after their graph is normalised, or served by ONNX
Runtime where they cannot be, the registry saying why."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from filelock import FileLock

from serve_app.config import ServerSettings
from serve_app.core.engines import EngineOptions
from serve_app.core.ids import ModelId
from serve_app.core.predictions import Classification, Detections, Prediction
from serve_app.core.requests import ImageBatch, InferenceParams, PreprocessOptions
from serve_app.core.spec import ModelPackage
from serve_app.engines.builds import optimised_build
from serve_app.engines.factory import OnnxEngineFactory
from serve_app.engines.selection import select_engine
from serve_app.engines.store import EngineStore
from serve_app.preprocessing.prepare import prepare_image
from serve_app.replica.loaded_model import LoadedModel
from serve_app.weights.package import read_package
from tests.engines.models import bundled_package
from tests.serve_apps import deployed, registry, small_app
from tests.support import box_iou, box_of, jpeg_b64
from tools.fixtures.exporters import CONSTANT_WEIGHTS, UNCONVERTIBLE
from tools.shapes import generate_scene

APP = "rfserve-torch"
ENGINE = {"backend": "torch", "device": "cpu"}
DETECTOR = "shapes-detection/1"
ROUTES = {
    "shapes-detection/1": "/infer/object_detection",
    "shapes-segmentation/1": "/infer/instance_segmentation",
    "shapes-classification/1": "/infer/classification",
    CONSTANT_WEIGHTS: "/infer/classification",
    UNCONVERTIBLE: "/infer/classification",
}
SCENES = [generate_scene(1_000_000 + i).image for i in range(6)]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("torch-cache")


@pytest.fixture(scope="module")
def detector_build_lock(cache_dir: Path) -> FileLock:
    """The lock the server's build of the detector's traced engine will wait on."""
    options = EngineOptions(**ENGINE)  # type: ignore[arg-type]
    package = bundled_package(DETECTOR)
    build = optimised_build(options, package, select_engine(options), max_batch_size=8)
    assert build is not None
    lock_path = EngineStore(cache_dir).lock_path(package.spec.model_id, build.key)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock_path))


@pytest.fixture(scope="module")
def base(
    serve_port: int, cache_dir: Path, detector_build_lock: FileLock, fixture_models_dir: Path
) -> Iterator[str]:
    settings = ServerSettings(
        model_cache_dir=cache_dir, local_models_dir=fixture_models_dir, weight_sources=["local"]
    )
    detector_build_lock.acquire()
    try:
        with deployed(
            APP, small_app(settings, composition="fused", engine=ENGINE), serve_port
        ) as url:
            yield url
    finally:
        detector_build_lock.release()


def onnx_runtime_answers(package: ModelPackage, params: InferenceParams) -> list[Prediction]:
    model = LoadedModel.load(package, OnnxEngineFactory(EngineOptions(backend="onnxruntime"), 8))
    decoded = [prepare_image(s, package.spec, PreprocessOptions()) for s in SCENES]
    batch = ImageBatch(
        np.stack([d[0] for d in decoded]), tuple(d[1] for d in decoded), (params,) * len(SCENES)
    )
    return model.run_batch(batch)


def post(base: str, model_id: str, **params: object) -> httpx.Response:
    body = {
        **params,
        "model_id": model_id,
        "image": [{"type": "base64", "value": jpeg_b64(s, quality=100)} for s in SCENES],
    }
    return httpx.post(f"{base}{ROUTES[model_id]}", json=body, timeout=120)


def assert_answers_match(answers: list[dict[str, Any]], expected: list[Prediction]) -> None:
    for answer, want in zip(answers, expected, strict=True):
        if isinstance(want, Classification):
            assert [p["class_id"] for p in answer["predictions"]] == want.predicted.tolist()
            continue
        assert isinstance(want, Detections)
        got = sorted(answer["predictions"], key=lambda p: -p["confidence"])
        assert [p["class_id"] for p in got] == want.class_id.tolist()
        for p, box in zip(got, want.xyxy, strict=True):
            assert box_iou(box_of(p), tuple(box.tolist())) >= 0.95


def engine_of(base: str, model_id: str) -> dict[str, Any] | None:
    engines = registry(base).get(model_id, {}).get("engines")
    return engines[0] if engines else None


def wait_for(base: str, model_id: str, live: str, deadline_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while (engine := engine_of(base, model_id)) is None or engine["live"] != live:
        assert time.monotonic() < deadline, engine
        time.sleep(0.2)
    return engine


def test_the_traced_engine_takes_over_under_load_without_a_failed_request(
    base: str, detector_build_lock: FileLock
) -> None:
    expected = onnx_runtime_answers(bundled_package(DETECTOR), InferenceParams())
    statuses: list[int] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            r = post(base, DETECTOR)
            statuses.append(r.status_code)
            if r.status_code == 200:
                assert_answers_match(r.json(), expected)

    with ThreadPoolExecutor(3) as pool:
        clients = [pool.submit(client) for _ in range(3)]
        engine = wait_for(base, DETECTOR, "torch")
        # Another replica holds the build's lock: the model serves on the converted
        # network meanwhile, and the build waits.
        assert engine["build"]["state"] in {"queued", "waiting"}
        served_before = len(statuses)
        while len(statuses) < served_before + 3:
            assert not any(c.done() for c in clients)
            time.sleep(0.05)
        detector_build_lock.release()
        engine = wait_for(base, DETECTOR, "torch-trace")
        served_at_swap = len(statuses)
        while len(statuses) < served_at_swap + 3:
            assert not any(c.done() for c in clients)
            time.sleep(0.05)
        stop.set()
        for c in clients:
            c.result(120)
    detector_build_lock.acquire()  # the fixture releases it
    assert set(statuses) == {200}
    build = engine["build"]
    assert (build["backend"], build["state"], build["origin"]) == ("torch-trace", "ready", "built")
    assert build["progress"] == 1.0 and build["elapsed_s"] > 0
    assert engine["device"] == "cpu" and engine["fallback"] is None


@pytest.mark.parametrize("model_id", [m for m in ROUTES if m.startswith("shapes-")])
def test_every_bundled_model_answers_as_onnx_runtime(base: str, model_id: str) -> None:
    expected = onnx_runtime_answers(bundled_package(model_id), InferenceParams())
    r = post(base, model_id)
    assert r.status_code == 200, r.text
    assert_answers_match(r.json(), expected)
    engine = wait_for(base, model_id, "torch-trace")
    r = post(base, model_id)  # and again on the traced engine
    assert r.status_code == 200, r.text
    assert_answers_match(r.json(), expected)
    assert engine["build"]["origin"] in {"built", "cache"}


def test_weights_written_as_constant_nodes_are_converted(
    base: str, fixture_models_dir: Path
) -> None:
    """As PaddlePaddle exports: onnx2torch alone fails on them (KeyError)."""
    package = read_package(ModelId.parse(CONSTANT_WEIGHTS), fixture_models_dir / CONSTANT_WEIGHTS)
    expected = onnx_runtime_answers(package, InferenceParams(confidence=0.0))
    r = post(base, CONSTANT_WEIGHTS, confidence=0.0)
    assert r.status_code == 200, r.text
    assert_answers_match(r.json(), expected)
    assert len({answer["top"] for answer in r.json()}) > 1, "each image its own answer"
    engine = engine_of(base, CONSTANT_WEIGHTS)
    assert engine is not None and engine["fallback"] is None
    assert engine["live"] in {"torch", "torch-trace"}


def test_a_network_torch_cannot_convert_is_served_by_onnx_runtime_saying_why(
    base: str, fixture_models_dir: Path
) -> None:
    package = read_package(ModelId.parse(UNCONVERTIBLE), fixture_models_dir / UNCONVERTIBLE)
    r = post(base, UNCONVERTIBLE, confidence=0.0)
    assert r.status_code == 200, r.text
    assert_answers_match(r.json(), onnx_runtime_answers(package, InferenceParams(confidence=0.0)))
    engine = engine_of(base, UNCONVERTIBLE)
    assert engine is not None
    assert (engine["live"], engine["build"]) == ("onnxruntime", None)
    assert "Det" in engine["fallback"] and "ONNX Runtime" in engine["fallback"]
