"""Faults under way: a model replica dies under load, the cache's disk fills up. Each
test states what a client sees and that the server heals; figures go to the log."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray

from serve_app.config import ServerSettings
from serve_app.weights.config import BUNDLED_MODELS_DIR
from tests.load import HANG_BOUND_S, LoadGenerator, serving_again
from tests.serve_apps import deployed, replica_actors, small_app
from tests.support import b64_image, solid_image
from tests.weights.fake_roboflow import GOOD_KEY, FakeRoboflow

ROUTE = "/infer/object_detection"


@pytest.fixture(scope="module")
def killable(serve_port: int, settings: ServerSettings) -> Iterator[str]:
    with deployed("faults", small_app(settings), serve_port) as url:
        yield url


def test_a_model_replica_killed_under_load_is_replaced_and_no_request_hangs(
    killable: str,
) -> None:
    body = {"model_id": "fixture-yolov8/1", "image": b64_image(solid_image(320, 320, (0, 0, 250)))}
    assert httpx.post(f"{killable}{ROUTE}", json=body, timeout=60).status_code == 200
    with LoadGenerator(f"{killable}{ROUTE}", body, clients=6) as load:
        time.sleep(2.0)
        (replica,) = replica_actors("faults", "ModelReplica")
        killed_at = time.monotonic()
        ray.kill(replica, no_restart=True)
        # Serving again: a success that started after the kill.
        load.wait_until(serving=1, since=killed_at, timeout_s=90)
        time.sleep(1.0)
        assert load.stop(), "a request hung"
    results = load.results

    statuses = Counter(r.status for r in results)
    assert set(statuses) <= {200, 500, 503}, statuses
    failed = [(r.status, r.body) for r in results if r.status != 200]
    assert all(text.startswith('{"message":') for _, text in failed), failed[:3]
    # Answered again: the first success of a request sent after the kill.
    recovered = serving_again(results, killed_at, streak=1)
    assert recovered is not None
    longest = max(r.end - r.start for r in results)
    print(
        f"replica killed: {statuses[200]} answered, {len(failed)} failed cleanly "
        f"({dict(statuses)}), serving again {recovered - killed_at:.1f} s after the kill, "
        f"longest request {longest:.1f} s"
    )
    assert longest < HANG_BOUND_S
    assert replica_actors("faults", "ModelReplica"), "the replica was not replaced"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: too small for a 2 MB model package."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small file system with")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_cache_disk_is_a_507_and_leaves_nothing_behind(
    serve_port: int, fake_roboflow: FakeRoboflow, tiny_disk: Path
) -> None:
    model_id = "rf-too-big/1"
    fake_roboflow.add(model_id, BUNDLED_MODELS_DIR / "shapes-detection" / "1", ("a", "b", "c"))
    settings = ServerSettings(
        model_cache_dir=tiny_disk,
        weight_sources=["roboflow"],
        api_base_url=fake_roboflow.url,
        weights_retries=0,
    )
    with deployed("diskfull", small_app(settings), serve_port) as url:
        body = {
            "model_id": model_id,
            "api_key": GOOD_KEY,
            "image": b64_image(solid_image(64, 64, (0, 0, 255))),
        }
        r = httpx.post(f"{url}{ROUTE}", json=body, timeout=60)
        assert r.status_code == 507, r.text
        assert "full" in r.json()["message"] and "MODEL_CACHE_DIR" in r.json()["message"]
        # Nothing half-written: no package, no staging copy, no partial file.
        left = [p for p in tiny_disk.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
        assert left == [], left
        assert not (tiny_disk / "rf-too-big").exists()
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
