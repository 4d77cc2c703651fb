"""Server-side access control for an exposed deployment: a configured set of accepted
keys opens the door, and weights are then fetched with the server's own Roboflow key,
never with a client's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from serve_app.config import ServerSettings
from tests.serve_apps import deployed, small_app
from tests.support import b64_image, solid_image
from tests.weights.fake_roboflow import GOOD_KEY, FakeRoboflow

CLIENT_KEY = "client-door-key-5521"
OTHER_CLIENT_KEY = "client-door-key-9034"
MODEL = "rf-guarded/1"
IMAGE = b64_image(solid_image(64, 64, (0, 0, 255)))


@pytest.fixture(scope="module")
def guarded(
    serve_port: int,
    fake_roboflow: FakeRoboflow,
    source_package: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    fake_roboflow.add(MODEL, source_package, ("a", "b"))
    settings = ServerSettings(
        model_cache_dir=tmp_path_factory.mktemp("guarded-cache"),
        weight_sources=["roboflow"],
        api_base_url=fake_roboflow.url,
        roboflow_api_key=SecretStr(GOOD_KEY),
        api_keys=[SecretStr(CLIENT_KEY), SecretStr(OTHER_CLIENT_KEY)],
    )
    with deployed("guarded", small_app(settings), serve_port) as url:
        yield url


def infer(url: str, **how: object) -> httpx.Response:
    body = {"model_id": MODEL, "image": IMAGE, **how.pop("body", {})}  # type: ignore[dict-item]
    return httpx.post(f"{url}/infer/object_detection", json=body, timeout=60, **how)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "how",
    [
        {},
        {"params": {"api_key": "wrong"}},
        {"headers": {"Authorization": "Bearer wrong"}},
        {"body": {"api_key": GOOD_KEY}},  # a valid Roboflow key is not a key to this server
    ],
    ids=["none", "wrong-query", "wrong-bearer", "roboflow-key"],
)
def test_without_an_accepted_key_every_inference_is_401(guarded: str, how: dict) -> None:
    r = infer(guarded, **how)
    assert r.status_code == 401, r.text
    assert set(r.json()) == {"message"}
    assert CLIENT_KEY not in r.text


@pytest.mark.parametrize(
    "how",
    [
        {"params": {"api_key": CLIENT_KEY}},
        {"headers": {"Authorization": f"Bearer {OTHER_CLIENT_KEY}"}},
        {"body": {"api_key": CLIENT_KEY}},
    ],
    ids=["query", "bearer", "body"],
)
def test_an_accepted_key_opens_the_door_and_weights_use_the_servers_key(
    guarded: str, fake_roboflow: FakeRoboflow, how: dict
) -> None:
    r = infer(guarded, **how)
    assert r.status_code == 200, r.text
    queried_keys = {query.get("api_key") for query in fake_roboflow.ort_queries}
    assert CLIENT_KEY not in queried_keys and OTHER_CLIENT_KEY not in queried_keys
    assert fake_roboflow.hits[f"ort {MODEL}"] >= 1 and GOOD_KEY in queried_keys


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/model/clear"), ("GET", "/model/registry"), ("POST", f"/{MODEL}")],
)
def test_model_management_and_the_classic_route_need_the_key_too(
    guarded: str, method: str, path: str
) -> None:
    assert httpx.request(method, f"{guarded}{path}", timeout=60).status_code == 401
    r = httpx.request(method, f"{guarded}{path}", params={"api_key": CLIENT_KEY}, timeout=60)
    assert r.status_code != 401


@pytest.mark.parametrize("path", ["/healthz", "/readiness", "/info", "/docs", "/openapi.json"])
def test_health_and_docs_stay_open(guarded: str, path: str) -> None:
    assert httpx.get(f"{guarded}{path}", timeout=60).status_code == 200
