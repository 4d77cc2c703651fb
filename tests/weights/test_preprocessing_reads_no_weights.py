"""In the split graph a preprocessing replica learns a model from the model stage and
never reads its package: with S3 the only weight source, requests are served while the
preprocessing replicas' processes have not so much as loaded the ONNX library, which
reading a package needs (the model replicas' have: the check can see it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve_apps import deployed, small_app
from tests.support import b64_image, solid_image
from tests.weights.seaweed import SeaweedS3

APP = "rfserve-s3-only"
MODEL = "s3-only/1"
CLASSES = ("s3-only-red", "s3-only-blue")
ONNX_LIBRARY = "onnx_cpp2py_export"
"""The ONNX package's compiled module, mapped into any process that imported onnx."""


@pytest.fixture(scope="module")
def s3_only(
    serve_port: int, seaweed: SeaweedS3, source_package: Path, tmp_path: Path
) -> Iterator[str]:
    seaweed.upload_package(source_package, MODEL, CLASSES)
    config = small_app(seaweed.settings(tmp_path / "cache"), preprocessing_replicas=2)
    with deployed(APP, config, serve_port) as base:
        yield base


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s3-only")


def replica_processes(app: str, deployment: str) -> list[int]:
    """Process ids of ``deployment``'s replicas: Ray titles each replica's process
    ``ray::ServeReplica:{app}:{deployment}``."""
    title = f"ServeReplica:{app}:{deployment}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and title in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def loaded_onnx(pid: int) -> bool:
    return ONNX_LIBRARY in Path(f"/proc/{pid}/maps").read_text()


def test_preprocessing_replicas_serve_without_reading_a_package(s3_only: str) -> None:
    images = [b64_image(solid_image(320, 320, (0, 0, 255)))] * 4
    for _ in range(3):
        r = httpx.post(
            f"{s3_only}/infer/object_detection",
            json={"model_id": MODEL, "image": images},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert {p["class"] for answer in r.json() for p in answer["predictions"]} == {CLASSES[0]}
    preprocessing = replica_processes(APP, "Preprocessor")
    models = replica_processes(APP, "ModelReplica")
    assert len(preprocessing) == 2 and len(models) == 1
    assert all(loaded_onnx(pid) for pid in models)
    assert not any(loaded_onnx(pid) for pid in preprocessing)
