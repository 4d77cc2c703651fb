"""Weight sources for tests, on loopback for the whole session: a fake Roboflow API
and a real S3 (SeaweedFS) with one bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.weights.fake_roboflow import FakeRoboflow
from tests.weights.seaweed import BUCKET, SeaweedS3, start_seaweed

SOURCE_MODEL = "fixture-yolov8/1"
"""The fixture package test models copy: 320x320 letterboxed, class 0 scores red."""


@pytest.fixture(scope="session")
def fake_roboflow() -> Iterator[FakeRoboflow]:
    fake = FakeRoboflow()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    s3 = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        s3.client().create_bucket(Bucket=BUCKET)
        yield s3
    finally:
        s3.stop()


@pytest.fixture(scope="session")
def source_package(fixture_models_dir: Path) -> Path:
    return fixture_models_dir / SOURCE_MODEL
