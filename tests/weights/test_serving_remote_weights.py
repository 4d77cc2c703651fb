"""Models fetched on first use from Roboflow (a fake API) and S3 (SeaweedFS), by a
server with two preprocessing and two model replicas sharing one cache; then a second
server on that cache with every source down, holding two models per replica."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
from pydantic import SecretStr
from ray import serve

from bench.handles import call_deployment
from serve_app.app import weight_sources
from serve_app.config import ServerSettings
from serve_app.weights.store import package_store
from tests.conftest import free_port
from tests.serve_apps import deployed, small_app
from tests.support import b64_image, solid_image
from tests.weights.fake_roboflow import GOOD_KEY, FakeRoboflow
from tests.weights.seaweed import ACCESS_KEY, BUCKET, PREFIX, SECRET_KEY, SeaweedS3

REMOTE_APP = "rfserve-remote"
OFFLINE_APP = "rfserve-offline"
RETRIES = 1

# Models both servers use, by source; each names its classes after itself, so an
# answer shows which model produced it.
FROM_ROBOFLOW = "rf-served/1"
FROM_S3 = "s3-served/1"
ALSO_FROM_ROBOFLOW = "rf-third/1"


def classes_of(model_id: str) -> tuple[str, str]:
    name = model_id.split("/")[0]
    return (f"{name}-red", f"{name}-blue")


def infer(base: str, model_id: str, **request: object) -> httpx.Response:
    """Detect on a pure red image: the fixture model answers class 0 only, score 1."""
    body = {"model_id": model_id, "image": b64_image(solid_image(320, 320, (0, 0, 255)))}
    return httpx.post(f"{base}/infer/object_detection", json={**body, **request}, timeout=60)


def assert_served_by(response: httpx.Response, model_id: str) -> None:
    assert response.status_code == 200, response.text
    (prediction,) = response.json()["predictions"]
    assert prediction["class"] == classes_of(model_id)[0]
    assert prediction["confidence"] == pytest.approx(1.0, abs=1e-3)


def source_settings(cache: Path, roboflow_url: str, s3_url: str, **more: object) -> ServerSettings:
    settings: dict[str, object] = {
        "model_cache_dir": cache,
        "weight_sources": ["s3", "roboflow"],
        "api_base_url": roboflow_url,
        "s3_bucket": BUCKET,
        "s3_prefix": PREFIX,
        "s3_endpoint_url": s3_url,
        "s3_region": "us-east-1",
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SecretStr(SECRET_KEY),
        "weights_retries": RETRIES,
        "weights_backoff_s": 0.05,
    }
    return ServerSettings(**{**settings, **more})


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture(scope="module")
def published(fake_roboflow: FakeRoboflow, seaweed: SeaweedS3, source_package: Path) -> None:
    for model_id in (FROM_ROBOFLOW, ALSO_FROM_ROBOFLOW):
        fake_roboflow.add(model_id, source_package, classes_of(model_id))
    seaweed.upload_package(source_package, FROM_S3, classes_of(FROM_S3))


@pytest.fixture(scope="module")
def live_settings(
    fake_roboflow: FakeRoboflow, seaweed: SeaweedS3, cache_dir: Path, published: None
) -> ServerSettings:
    """Settings of a server whose sources are up."""
    return source_settings(cache_dir, fake_roboflow.url, seaweed.endpoint_url)


@pytest.fixture(scope="module")
def remote(serve_port: int, live_settings: ServerSettings) -> Iterator[str]:
    config = small_app(live_settings, preprocessing_replicas=2, model_replicas=2)
    with deployed(REMOTE_APP, config, serve_port) as base:
        yield base


def test_model_from_roboflow_is_fetched_once_then_served_from_cache(
    remote: str, fake_roboflow: FakeRoboflow
) -> None:
    for _ in range(3):
        assert_served_by(infer(remote, FROM_ROBOFLOW, api_key=GOOD_KEY), FROM_ROBOFLOW)
    assert fake_roboflow.hits[f"ort {FROM_ROBOFLOW}"] == 1
    assert fake_roboflow.downloads(FROM_ROBOFLOW) == 1


def test_model_from_s3_is_served_before_roboflow_is_asked(
    remote: str, fake_roboflow: FakeRoboflow
) -> None:
    assert_served_by(infer(remote, FROM_S3), FROM_S3)  # no key: S3 needs none
    assert fake_roboflow.hits[f"ort {FROM_S3}"] == 0


def test_twenty_concurrent_first_requests_download_once(
    remote: str, fake_roboflow: FakeRoboflow, source_package: Path
) -> None:
    model_id = "rf-burst/1"
    # A slow lookup, so every request arrives while the first fetch is under way.
    fake_roboflow.add(model_id, source_package, classes_of(model_id), ort_delay_s=1.0)

    # /infer reaches a preprocessing replica first, /model/add a model replica: the
    # two kinds race for the download in different processes.
    def first_request(i: int) -> httpx.Response:
        if i % 4 == 0:
            body = {"model_id": model_id, "api_key": GOOD_KEY}
            return httpx.post(f"{remote}/model/add", json=body, timeout=60)
        return infer(remote, model_id, api_key=GOOD_KEY)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(first_request, range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    for r in responses[1::4]:
        assert_served_by(r, model_id)
    assert fake_roboflow.hits[f"ort {model_id}"] == 1
    assert fake_roboflow.downloads(model_id) == 1


@pytest.mark.parametrize(
    ("mode", "status", "downloads"),
    [
        ("truncate", 503, RETRIES + 1),  # each short body retried by the HTTP client
        ("corrupt", 500, 2),  # a whole body that does not parse is fetched once more
    ],
)
def test_bad_download_is_never_loaded_and_a_good_one_later_is(
    remote: str,
    fake_roboflow: FakeRoboflow,
    source_package: Path,
    cache_dir: Path,
    mode: str,
    status: int,
    downloads: int,
) -> None:
    model_id = f"rf-{mode}/1"
    model = fake_roboflow.add(model_id, source_package, classes_of(model_id), mode=mode)
    r = infer(remote, model_id, api_key=GOOD_KEY)
    assert r.status_code == status, r.text
    assert fake_roboflow.downloads(model_id) == downloads
    assert not (cache_dir / model_id).exists()

    model.mode = "ok"
    assert_served_by(infer(remote, model_id, api_key=GOOD_KEY), model_id)
    cached = (cache_dir / model_id / "weights.onnx").read_bytes()
    assert cached == (source_package / "weights.onnx").read_bytes()


def test_refused_key_is_a_401_and_never_written_to_a_log(
    remote: str, fake_roboflow: FakeRoboflow, source_package: Path, capfd: pytest.CaptureFixture
) -> None:
    model_id = "rf-private/1"
    fake_roboflow.add(model_id, source_package, classes_of(model_id))
    keys = [f"rf-leak-canary-{uuid.uuid4().hex}" for _ in range(4)]
    url = f"{remote}/infer/object_detection"
    image = b64_image(solid_image(32, 32, (0, 0, 255)))
    responses = [
        httpx.post(url, json={"model_id": model_id, "image": image, "api_key": keys[0]}),
        httpx.post(
            url,
            json={"model_id": model_id, "image": image},
            headers={"Authorization": f"Bearer {keys[1]}"},
        ),
        httpx.post(url, params={"api_key": keys[2]}, json={"model_id": model_id, "image": image}),
        httpx.post(f"{remote}/model/add", json={"model_id": model_id, "api_key": keys[3]}),
    ]
    for r in responses:
        assert r.status_code == 401, r.text
        assert not any(key in r.text for key in keys)
    # Each key did reach Roboflow, which refused it.
    assert {q["api_key"] for q in fake_roboflow.ort_queries} >= set(keys)

    time.sleep(1.0)  # log handlers flush
    logs = ray_logs()
    assert b"Roboflow refused the API key for model rf-private/1" in logs, "not the right logs?"
    captured = capfd.readouterr()
    for key in keys:
        assert key.encode() not in logs
        assert key not in captured.out and key not in captured.err


def test_unknown_model_is_a_404(remote: str) -> None:
    assert infer(remote, "rf-unknown/1", api_key=GOOD_KEY).status_code == 404
    body = {"model_id": "rf-unknown/1", "api_key": GOOD_KEY}
    assert httpx.post(f"{remote}/model/add", json=body, timeout=60).status_code == 404


@pytest.fixture(scope="module")
def offline(serve_port: int, live_settings: ServerSettings, cache_dir: Path) -> Iterator[str]:
    """A second server on the first one's cache, every source pointing at a dead port."""
    # What the first server cached, whether or not its tests ran.
    store = package_store(weight_sources(live_settings))
    for model_id in (FROM_ROBOFLOW, FROM_S3, ALSO_FROM_ROBOFLOW):
        store.package(model_id, GOOD_KEY)
    serve.delete(REMOTE_APP)

    dead = f"http://127.0.0.1:{free_port()}"
    settings = source_settings(cache_dir, dead, dead, max_active_models=2, weights_retries=0)
    with deployed(OFFLINE_APP, small_app(settings), serve_port) as base:
        yield base


def test_second_server_serves_from_cache_with_every_source_down(
    offline: str, fake_roboflow: FakeRoboflow
) -> None:
    lookups = fake_roboflow.hits.copy()
    for model_id in (FROM_ROBOFLOW, FROM_S3):
        assert_served_by(infer(offline, model_id), model_id)
    assert fake_roboflow.hits == lookups
    # Nothing else is reachable: a model missing from the cache fails fast, saying why.
    started = time.monotonic()
    r = infer(offline, "rf-uncached/1", api_key=GOOD_KEY)
    assert r.status_code == 503
    assert "rf-uncached/1" in r.json()["message"]
    assert time.monotonic() - started < 15, "a refused connection is not retried for long"


def test_three_models_share_a_replica_with_two_slots(offline: str) -> None:
    def replica_stats() -> dict[str, Any]:
        stats: dict[str, Any] = call_deployment(OFFLINE_APP, "ModelReplica", "stats")
        return stats

    assert httpx.post(f"{offline}/model/clear", timeout=60).json() == {"models": []}
    before = replica_stats()
    assert before["loaded_models"] == []
    a, b, c = FROM_ROBOFLOW, FROM_S3, ALSO_FROM_ROBOFLOW

    # At once: twelve requests over three models, two at most loaded at a time.
    requests = [a, b, c] * 4
    with ThreadPoolExecutor(len(requests)) as pool:
        responses = list(pool.map(lambda m: infer(offline, m), requests))
    for model_id, response in zip(requests, responses, strict=True):
        assert_served_by(response, model_id)
    during = replica_stats()
    assert during["model_loads"] - before["model_loads"] >= 3
    assert during["model_evictions"] - before["model_evictions"] >= 1

    # One at a time, the least recently used goes first.
    for model_id in (a, b, c):
        assert_served_by(infer(offline, model_id), model_id)
    assert replica_stats()["loaded_models"] == [b, c]
    assert_served_by(infer(offline, a), a)
    after = replica_stats()
    assert after["loaded_models"] == [c, a]
    assert after["model_evictions"] >= during["model_evictions"] + 2
    registry = httpx.get(f"{offline}/model/registry", timeout=30).json()
    assert sorted(m["model_id"] for m in registry["models"]) == sorted([a, c])


def ray_logs() -> bytes:
    """Every log file of this Ray session, concatenated."""
    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    return b"\n".join(p.read_bytes() for p in sorted(logs.rglob("*")) if p.is_file())
