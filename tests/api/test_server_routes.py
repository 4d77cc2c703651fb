"""Server identity, health and the generated API docs."""

from __future__ import annotations

import httpx


def test_info_names_the_server(client: httpx.Client) -> None:
    body = client.get("/info").json()
    assert body["name"] == "rfserve" and body["version"] and body["uuid"]


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "healthy"}
    assert client.get("/readiness").status_code == 200


def test_openapi_documents_the_inference_route(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/infer/object_detection" in spec["paths"]
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
