"""The engine store with a real built engine (the torch engine's traced programs of
one small fixture model): built once per node however many replicas ask at once,
loaded by a restarted replica, fetched from S3 (SeaweedFS) by another node instead
of built, and kept local, logged once, where the credentials cannot write."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from serve_app.core.engines import EngineOptions
from serve_app.core.spec import ModelPackage
from serve_app.engines.builds import EngineBuild, optimised_build
from serve_app.engines.factory import create_engine
from serve_app.engines.selection import select_engine
from serve_app.engines.store import KEY_FILE, EngineOrigin, EngineStore
from serve_app.weights.package import read_package
from tests.weights.seaweed import (
    BUCKET,
    PREFIX,
    READ_ONLY_ACCESS_KEY,
    READ_ONLY_SECRET_KEY,
    SeaweedS3,
)

MODEL = "fixture-yolov8/1"


@pytest.fixture(scope="module")
def package(fixture_models_dir: Path) -> ModelPackage:
    from serve_app.core.ids import ModelId

    return read_package(ModelId.parse(MODEL), fixture_models_dir / MODEL)


class CountedBuild:
    """The real build, counting how often it runs."""

    def __init__(self, package: ModelPackage) -> None:
        options = EngineOptions(backend="torch", device="cpu")
        build = optimised_build(options, package, select_engine(options), max_batch_size=2)
        assert build is not None
        self.builds = 0
        self._lock = threading.Lock()

        def counted(folder: Path, progress: object) -> None:
            with self._lock:
                self.builds += 1
            build.build(folder, progress)  # type: ignore[arg-type]

        self.build = EngineBuild(package, build.key, counted, build.load)


def answers(build: EngineBuild, store: EngineStore) -> tuple[list[np.ndarray], EngineOrigin]:
    engine, origin = build.run(store, lambda state, progress: None)
    assert engine.name == "torch-trace"
    images = np.full((2, 320, 320, 3), (200, 10, 10), np.uint8)
    return engine.infer(images), origin


def test_replicas_of_one_node_build_once_and_a_restart_loads(
    package: ModelPackage, tmp_path: Path
) -> None:
    counted = CountedBuild(package)
    results: list[tuple[list[np.ndarray], EngineOrigin]] = []
    # Four replicas sharing one cache folder, each with its own store, at once.
    threads = [
        threading.Thread(
            target=lambda: results.append(answers(counted.build, EngineStore(tmp_path)))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counted.builds == 1
    assert sorted(origin.value for _, origin in results) == ["built", "cache", "cache", "cache"]
    want = create_engine(EngineOptions(backend="onnxruntime"), package).infer(
        np.full((2, 320, 320, 3), (200, 10, 10), np.uint8)
    )
    for outputs, _ in results:
        np.testing.assert_allclose(outputs[0], want[0], atol=1e-4)
    folder = EngineStore(tmp_path).folder(package.spec.model_id, counted.build.key)
    assert folder.is_relative_to(tmp_path / ".engines")
    assert (folder / KEY_FILE).is_file()
    # A restarted replica loads what is on disk.
    assert answers(counted.build, EngineStore(tmp_path))[1] is EngineOrigin.CACHE
    assert counted.builds == 1


def test_another_node_fetches_the_engine_from_s3_instead_of_building(
    package: ModelPackage, tmp_path: Path, seaweed: SeaweedS3
) -> None:
    counted = CountedBuild(package)
    first = EngineStore(tmp_path / "a", seaweed.source())
    second = EngineStore(tmp_path / "b", seaweed.source())
    built, origin = answers(counted.build, first)
    assert origin is EngineOrigin.BUILT
    keys = {
        obj["Key"]
        for obj in seaweed.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{MODEL}/")[
            "Contents"
        ]
    }
    name = counted.build.key.name
    assert f"{PREFIX}/{MODEL}/.engines/{name}/{KEY_FILE}" in keys
    fetched, origin = answers(counted.build, second)
    assert origin is EngineOrigin.S3
    assert counted.builds == 1
    np.testing.assert_array_equal(fetched[0], built[0])


def test_read_only_credentials_keep_engines_local_and_say_so_once(
    package: ModelPackage, tmp_path: Path, seaweed: SeaweedS3, caplog: pytest.LogCaptureFixture
) -> None:
    counted = CountedBuild(package)
    store = EngineStore(tmp_path, seaweed.source(READ_ONLY_ACCESS_KEY, READ_ONLY_SECRET_KEY))
    # Keys no other test uploaded, so each is built here.
    first, second = (
        EngineBuild(
            package, replace(counted.build.key, variant=v), counted.build.build, counted.build.load
        )
        for v in ("read-only 1", "read-only 2")
    )
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        assert answers(first, store)[1] is EngineOrigin.BUILT
        assert answers(second, store)[1] is EngineOrigin.BUILT
    refusals = [r for r in caplog.records if "refuses uploads" in r.getMessage()]
    assert len(refusals) == 1
    assert counted.builds == 2
    assert store.folder(package.spec.model_id, second.key).is_dir()
