"""``rfserve models pull`` and ``list``: the cache filled from Roboflow (a fake API on
loopback) and S3 (SeaweedFS) without a server, with a progress bar per download, in
the layout the server reads; ``list`` shows what it holds and the engines built."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serve_app.engines.store import ENGINES_DIR, KEY_FILE
from serve_app.launch.cli import main
from serve_app.weights.store import PackageStore
from tests.weights.fake_roboflow import GOOD_KEY, FakeRoboflow
from tests.weights.seaweed import ACCESS_KEY, BUCKET, PREFIX, SECRET_KEY, SeaweedS3


def models(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["models", *argv])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a connected machine with an empty cache: Roboflow's API only."""
    for name in ("RFSERVE_S3_BUCKET", "RFSERVE_LOCAL_MODELS_DIR", "ROBOFLOW_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RFSERVE_WEIGHT_SOURCES", "local,roboflow")
    monkeypatch.setenv("RFSERVE_WEIGHTS_RETRIES", "0")
    return tmp_path / "cache"


def test_pull_from_roboflow_then_serve_from_the_cache_alone(
    cache: Path,
    fake_roboflow: FakeRoboflow,
    source_package: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("API_BASE_URL", fake_roboflow.url)
    fake_roboflow.add("pulled/2", source_package, ("alpha", "beta"))
    code, out, err = models(["pull", "pulled/2", "-a", GOOD_KEY], capsys)
    assert code == 0, err
    source = re.escape(f"Roboflow ({fake_roboflow.url})")
    said = re.fullmatch(rf"pulled/2: pulled from {source}, (\d+) B in [\d.]+ s\n", out)
    assert said is not None, out
    folder_size = sum(p.stat().st_size for p in (cache / "pulled/2").iterdir())
    assert int(said.group(1)) == folder_size  # a small fixture: bytes
    size = (source_package / "weights.onnx").stat().st_size
    assert "pulled/2 weights.onnx: 100%" in err and "pulled/2 environment.json: 100%" in err
    assert GOOD_KEY not in out + err

    code, out, _ = models(["pull", "pulled/2", "-a", GOOD_KEY], capsys)
    assert (code, out) == (0, f"pulled/2: already in the cache, {cache / 'pulled/2'}\n")
    assert fake_roboflow.downloads("pulled/2") == 1

    # What a server with no source at all (an air-gapped device) reads.
    offline = PackageStore(cache, sources=[])
    assert offline.package("pulled/2").spec.class_names == ("alpha", "beta")
    assert offline.origin("pulled/2") == f"the cache {cache / 'pulled/2'}"
    assert (cache / "pulled/2/weights.onnx").stat().st_size == size


def test_pull_from_s3(
    cache: Path,
    seaweed: SeaweedS3,
    source_package: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seaweed.upload_package(source_package, "s3-pulled/1", ("left", "right"))
    settings = {
        "RFSERVE_WEIGHT_SOURCES": "s3",
        "RFSERVE_S3_BUCKET": BUCKET,
        "RFSERVE_S3_PREFIX": PREFIX,
        "RFSERVE_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "RFSERVE_S3_REGION": "us-east-1",
        "RFSERVE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "RFSERVE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code, out, err = models(["pull", "s3-pulled/1"], capsys)
    assert code == 0, err
    assert out.startswith(f"s3-pulled/1: pulled from S3 (s3://{BUCKET}/{PREFIX}/s3-pulled/1/)")
    assert "s3-pulled/1 weights.onnx: 100%" in err
    assert (cache / "s3-pulled/1/weights.onnx").is_file()


def test_pull_says_what_it_cannot_do(
    cache: Path, fake_roboflow: FakeRoboflow, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("API_BASE_URL", fake_roboflow.url)
    code, out, err = models(["pull", "shapes-detection/1", "nowhere/1", "bad id"], capsys)
    assert code == 1
    assert out.startswith("shapes-detection/1: in the local folder ")
    assert out.endswith("served from there: nothing to pull\n")
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("rfserve models pull: nowhere/1: ") and "API key" in lines[0]
    assert lines[1].startswith("rfserve models pull: bad id: ")
    assert not list(cache.glob("[!.]*/[!.]*"))


def test_list_shows_models_and_engines_built(
    cache: Path, source_package: Path, roboflow_cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # A cache as Roboflow's server writes it, plus one engine built for one model.
    import shutil

    shutil.copytree(roboflow_cache_dir, cache)
    listed = [json.loads(line) for line in models(["list", "--json"], capsys)[1].splitlines()]
    assert listed, "the fixture cache holds models"
    first = listed[0]["model_id"]
    engine = cache / ENGINES_DIR / first / "torch-trace-fp32-0123abcd"
    engine.mkdir(parents=True)
    key = {"backend": "torch-trace", "precision": "fp32", "device": {"name": "cpu-x86_64"}}
    (engine / KEY_FILE).write_text(json.dumps(key))
    (cache / ".staging" / "half" / "1").mkdir(parents=True)  # the store's own: not a model

    code, out, _ = models(["list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"MODEL_CACHE_DIR {cache}: {len(listed)} model(s)"
    assert lines[1].split() == ["MODEL", "TASK", "FAMILY", "SIZE", "ENGINES", "BUILT"]
    row = next(line for line in lines if line.startswith(first + " "))
    assert row.endswith("torch-trace fp32 on cpu-x86_64")
    for model in listed:
        folder = cache / model["model_id"]
        store = PackageStore(cache, sources=[])
        spec = store.package(model["model_id"]).spec
        assert model["task"] == spec.task.value
        assert model["size_bytes"] == sum(p.stat().st_size for p in folder.iterdir())
