"""The page at ``/`` as served (the browser test drives it): its files come from the
package, nothing from elsewhere, and its asset route serves only the page's files."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import httpx
import pytest
import tomllib

from serve_app.api.routes.page import ASSETS, PAGE_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_is_served_at_the_root(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"  # it may hold a typed API key
    assert '<base href="/">' in r.text
    port = re.search(r'name="rfserve-metrics-port" content="(\d+)"', r.text)
    assert port is not None, "the page links this Ray node's metrics endpoint"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("page.js", "text/javascript"),
        ("page.css", "text/css"),
        ("example.jpg", "image/jpeg"),
    ],  # fmt: skip
)
def test_assets_come_from_the_package(client: httpx.Client, name: str, media_type: str) -> None:
    r = client.get(f"/page-assets/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media_type)
    assert r.content == ASSETS[name][0].read_bytes()


@pytest.mark.parametrize("path", ["/page-assets/index.html", "/page-assets/..%2Fpy.typed"])
def test_nothing_else_is_served_from_disk(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "message" in r.json()


def test_the_asset_segment_is_not_a_model(client: httpx.Client) -> None:
    r = client.post("/page-assets/page.js", content=b"aGVsbG8=")
    assert r.status_code == 405, r.text  # never an inference with model page-assets/page.js


def test_the_page_needs_no_network() -> None:
    """Every file it loads is relative to the server; no CDN, no font service."""
    html = (PAGE_DIR / "index.html").read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(not re.match(r"[a-z]+://|//", link) for link in links), links
    css = (PAGE_DIR / "page.css").read_text()
    assert "url(" not in css and "@import" not in css
    script = (PAGE_DIR / "page.js").read_text()
    assert not re.search(r"https?://", script)


def test_the_page_is_package_data() -> None:
    """An installed server has the page: every file it serves matches a package-data glob."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["serve_app"]
    package = ROOT / "serve_app"
    for path in [PAGE_DIR / "index.html", *(p for p, _ in ASSETS.values())]:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative
