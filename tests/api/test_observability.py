"""What an operator sees: metrics a Prometheus can scrape, one log line per request
(with its id, and no traceback for a client's mistake), a quiet idle server, and API
docs that work without a CDN."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import APP_NAME, RaySession
from tests.support import b64_image, solid_image

ROUTE = "/infer/object_detection"
GOOD = b64_image(solid_image(64, 64, (0, 0, 255)))


def serve_logs(session: RaySession, app: str) -> list[Path]:
    return sorted((session.session_dir / "logs" / "serve").glob(f"replica_{app}_*.log"))


def lines_with(session: RaySession, app: str, needle: str) -> list[str]:
    return [
        line
        for path in serve_logs(session, app)
        for line in path.read_text(errors="replace").splitlines()
        if needle in line
    ]


def wait_for(predicate, timeout_s: float = 60.0):  # noqa: ANN001, ANN201 - a test helper
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_a_bad_request_writes_one_log_line_without_a_traceback(
    client: httpx.Client, ray_session: RaySession
) -> None:
    request_id = f"bad-{uuid.uuid4()}"
    bad = {"model_id": "fixture-yolov8/1", "image": {"type": "base64", "value": "bm90IGFuIGltYWdl"}}
    r = client.post(ROUTE, json=bad, headers={"X-Request-ID": request_id})
    assert r.status_code == 400
    assert r.headers["x-request-id"] == request_id
    lines = wait_for(lambda: lines_with(ray_session, APP_NAME, request_id), 30)
    assert len(lines) == 1, lines
    (line,) = lines
    assert " 400 " in line and "model=fixture-yolov8/1" in line and "decode" in line
    logs = "\n".join(p.read_text(errors="replace") for p in serve_logs(ray_session, APP_NAME))
    assert "Traceback" not in logs


def test_a_good_request_logs_one_line_with_its_id_model_and_images(
    client: httpx.Client, ray_session: RaySession
) -> None:
    request_id = f"good-{uuid.uuid4()}"
    body = {"model_id": "fixture-yolov8/1", "image": [GOOD, GOOD]}
    r = client.post(ROUTE, json=body, headers={"X-Request-ID": request_id})
    assert r.status_code == 200
    lines = wait_for(lambda: lines_with(ray_session, APP_NAME, request_id), 30)
    assert len(lines) == 1, lines
    assert re.search(r"POST /infer/object_detection 200 [\d.]+ms .* images=2", lines[0])


def test_an_idle_server_writes_nothing(client: httpx.Client, ray_session: RaySession) -> None:
    assert client.get("/healthz").status_code == 200
    time.sleep(2)  # let the health check's own line land
    before = {p: p.stat().st_size for p in serve_logs(ray_session, APP_NAME)}
    time.sleep(12)  # longer than the model registry's 10 s long poll
    after = {p: p.stat().st_size for p in serve_logs(ray_session, APP_NAME)}
    grown = {p.name: after[p] - before.get(p, 0) for p in after if after[p] != before.get(p, 0)}
    assert not grown, grown


def test_a_scrape_after_requests_shows_them(client: httpx.Client, ray_session: RaySession) -> None:
    wanted = (
        "ray_rfserve_request_seconds_bucket",
        "ray_rfserve_stage_seconds_bucket",
        "ray_rfserve_group_images_bucket",
        "ray_rfserve_group_wait_seconds_bucket",
        "ray_rfserve_model_loads_total",
    )

    def answered(text: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("ray_rfserve_requests_total{")
            and 'model="fixture-yolov8/1"' in line
            and 'status="200"' in line
            and 'route="/infer/object_detection"' in line
        )

    def scrape() -> str:
        return httpx.get(f"http://127.0.0.1:{ray_session.metrics_port}/metrics", timeout=10).text

    before = answered(scrape())
    for _ in range(3):
        r = client.post(ROUTE, json={"model_id": "fixture-yolov8/1", "image": GOOD})
        assert r.status_code == 200

    def exported() -> str | None:
        text = scrape()
        return text if answered(text) >= before + 3 and all(w in text for w in wanted) else None

    assert wait_for(exported, 90), "the requests never showed in the scrape"


@pytest.mark.parametrize(
    ("page", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_api_docs_load_their_assets_from_the_server(
    client: httpx.Client, page: str, asset: str
) -> None:
    html = client.get(page).text
    (src,) = re.findall(rf'src="([^"]*{re.escape(asset)})"', html)
    assert src.startswith("/") and "//" not in src, "served from this server, not a CDN"
    r = client.get(src)
    assert r.status_code == 200 and len(r.content) > 100_000


@pytest.mark.parametrize(
    ("model_id", "source"),
    [("rf-cache-detection/1", "the cache "), ("fixture-yolov8-seg/1", "the local folder ")],
)
def test_a_model_loaded_on_demand_logs_where_it_came_from_and_how_long(
    client: httpx.Client, ray_session: RaySession, model_id: str, source: str
) -> None:
    assert client.post("/model/remove", json={"model_id": model_id}).status_code == 200
    needle = f"Model {model_id} loaded from {source}"
    before = len(lines_with(ray_session, APP_NAME, needle))
    assert client.post("/model/add", json={"model_id": model_id}).status_code == 200
    lines = wait_for(lambda: lines_with(ray_session, APP_NAME, needle)[before:], 30)
    assert len(lines) == 1, lines  # one model replica in the session's application
    assert re.search(
        rf"{re.escape(needle)}\S+/{model_id} in [\d.]+ s \(onnxruntime on cpu\)", lines[0]
    )
