"""The page at ``/``: the server's state and a form to try a model, for people.

Plain HTML, CSS and JavaScript from ``serve_app/api/page/`` (package data: no CDN, no
build step), which call the server's own JSON routes from the browser. The page is
rendered with the route prefix the application is served under (so its relative links
work under ``/{prefix}``) and the port of this node's Prometheus endpoint.
"""

from __future__ import annotations

import asyncio
import html
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from serve_app.api.routes.legacy import PAGE_ASSETS_SEGMENT
from serve_app.examples import EXAMPLE_IMAGE

PAGE_DIR = Path(__file__).resolve().parents[1] / "page"
ASSETS = {
    "page.js": (PAGE_DIR / "page.js", "text/javascript"),
    "page.css": (PAGE_DIR / "page.css", "text/css"),
    "example.jpg": (EXAMPLE_IMAGE, "image/jpeg"),
}
"""Every file the page may load, by name: nothing else is served from disk."""

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    base = str(request.scope.get("root_path", "")).rstrip("/") + "/"
    port = await _metrics_port()
    text = (
        _index()
        .replace("{{base}}", html.escape(base))
        .replace("{{metrics_port}}", "" if port is None else str(port))
    )
    # The page holds an API key a person typed: no cache keeps it, no frame shows it.
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    return HTMLResponse(text, headers=headers)


@router.get(f"/{PAGE_ASSETS_SEGMENT}/{{name}}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"The page has no file {name!r}")
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type)


@cache
def _index() -> str:
    return (PAGE_DIR / "index.html").read_text()


_metrics: list[int | None] = []


async def _metrics_port() -> int | None:
    """This Ray node's Prometheus port, asked of Ray once (None outside Ray)."""
    if not _metrics:
        _metrics.append(await asyncio.to_thread(_ask_ray_for_metrics_port))
    return _metrics[0]


def _ask_ray_for_metrics_port() -> int | None:
    try:
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        for node in ray.nodes():
            if node.get("NodeID") == node_id:
                return int(node["MetricsExportPort"])
    except Exception:  # noqa: BLE001 - no Ray, or no answer: the page then omits the link
        return None
    return None
