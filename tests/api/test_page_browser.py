"""The page at ``/`` in a real browser (headless chromium): it uploads the bundled
example to a detection, a segmentation and a keypoint model and draws what the server
answered, where it answered it, in the class's colour, and lists a classifier's
classes best first; and it works with a server that needs an API key without keeping
the key anywhere but in its memory.

``RFSERVE_SCREENSHOTS=DIR`` also saves the page of each task there (the README's come
from ``RFSERVE_SCREENSHOTS=bench/screenshots``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from serve_app.config import ServerSettings
from serve_app.preprocessing.visualization import PALETTE
from tests.browser import chromium
from tests.serve_apps import deployed, small_app
from tests.support import EXAMPLE_JPEG, example_image, stable, wait_until_ready

pytestmark = pytest.mark.timeout(300)

MODELS = {
    "detection": ("shapes-detection/1", "object_detection"),
    "segmentation": ("shapes-segmentation/1", "instance_segmentation"),
    "keypoints": ("shapes-keypoints/1", "keypoints_detection"),
}
WAIT_S = 60
PAGE_KEY = "page-test-key-2291"


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """One per deployment of the application: a browser whose connections to HAProxy
    predate a deployment is routed by the configuration they began under (HAProxy keeps
    old connections on its old process when Serve reloads it)."""
    with chromium() as driver:
        yield driver


def wait_for(condition: Any, what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"no {what} after {timeout_s:g} s"
        time.sleep(0.1)
    return value


def by_id(driver: Any, element_id: str) -> Any:
    return driver.find_element("id", element_id)


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(lambda: by_id(driver, "readiness").text not in ("", "checking…"), "readiness")


def infer_on_page(driver: Any, model_id: str) -> dict[str, Any]:
    """Type ``model_id``, upload the example, press Infer; the JSON the page shows."""
    field = by_id(driver, "model-id")
    field.clear()
    field.send_keys(model_id)
    assert field.get_attribute("value") == model_id
    driver.execute_script("document.getElementById('drop-text').textContent = ''")
    by_id(driver, "file").send_keys(str(EXAMPLE_JPEG))
    wait_for(lambda: EXAMPLE_JPEG.name in by_id(driver, "drop-text").text, "image read")
    driver.execute_script("window.rfserveDrawn = null")
    by_id(driver, "run").click()
    wait_for(
        lambda: (
            by_id(driver, "error").is_displayed()
            or driver.execute_script("return window.rfserveDrawn") is not None
        ),
        "answer",
    )
    assert not by_id(driver, "error").is_displayed(), by_id(driver, "error").text
    shown: dict[str, Any] = json.loads(
        driver.execute_script("return document.getElementById('json').textContent")
    )
    return shown


def drawn(driver: Any, kind: str) -> list[dict[str, Any]]:
    return [d for d in driver.execute_script("return window.rfserveDrawn") if d["kind"] == kind]


def canvas_rgb(driver: Any, x: float, y: float) -> tuple[int, int, int]:
    r, g, b, _ = driver.execute_script(
        "return Array.from(document.getElementById('canvas').getContext('2d')"
        ".getImageData(arguments[0], arguments[1], 1, 1).data)",
        math.floor(x),  # the pixel that holds the point
        math.floor(y),
    )
    return r, g, b


def assert_class_color(driver: Any, x: float, y: float, class_id: int) -> None:
    digits = PALETTE[class_id % len(PALETTE)].lstrip("#")
    expected = tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    got = canvas_rgb(driver, x, y)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 40, (x, y, got)


def interior_point(points: list[list[float]], box: dict[str, Any], margin: float) -> list[float]:
    """The outline point farthest inside its box: there only the outline is drawn."""

    def inside(p: list[float]) -> float:
        x, y = p
        return min(x - box["x1"], box["x2"] - x, y - box["y1"], box["y2"] - y)

    best = max(points, key=inside)
    assert inside(best) > margin, "every outline point lies on its box"
    return best


def save_screenshot(driver: Any, name: str, tmp_path: Path) -> None:
    """As a JPEG (a third of the PNG's size, for the repository's README)."""
    driver.execute_script("window.scrollTo(0, 0)")
    png = np.frombuffer(driver.get_screenshot_as_png(), np.uint8)
    shot = cv2.imdecode(png, cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape[1] >= 1000
    folder = os.environ.get("RFSERVE_SCREENSHOTS")
    for target in [tmp_path, *([Path(folder)] if folder else [])]:
        target.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target / f"page-{name}.jpg"), shot, [cv2.IMWRITE_JPEG_QUALITY, 88])


@pytest.mark.parametrize("task", list(MODELS))
def test_the_page_draws_the_answer_it_shows(
    browser: Any, server: str, client: httpx.Client, task: str, tmp_path: Path
) -> None:
    model_id, route = MODELS[task]
    open_page(browser, f"{server}/")
    shown = infer_on_page(browser, model_id)

    # What the page shows is what the API answers for the same image and thresholds.
    direct = client.post(f"/infer/{route}", json={"model_id": model_id, "image": example_image()})
    assert direct.status_code == 200, direct.text
    assert stable(shown["predictions"]) == stable(direct.json()["predictions"])
    predictions = shown["predictions"]
    assert predictions, "the example holds three shapes"
    status = by_id(browser, "status").text
    assert f"Server time {1000 * shown['time']:.1f} ms" in status and "round trip" in status

    boxes = drawn(browser, "box")
    assert len(boxes) == len(predictions)
    for box, p in zip(boxes, predictions, strict=True):
        x1, y1 = p["x"] - p["width"] / 2, p["y"] - p["height"] / 2
        assert box["x1"] == pytest.approx(x1) and box["y1"] == pytest.approx(y1)
        assert box["x2"] == pytest.approx(x1 + p["width"])
        assert box["y2"] == pytest.approx(y1 + p["height"])
        assert (box["class"], box["class_id"]) == (p["class"], p["class_id"])
        assert_class_color(browser, box["x1"], (box["y1"] + box["y2"]) / 2, p["class_id"])

    if task == "segmentation":
        outlines = drawn(browser, "outline")
        assert len(outlines) == len(predictions)
        for outline, p, box in zip(outlines, predictions, boxes, strict=True):
            assert outline["points"] == [[q["x"], q["y"]] for q in p["points"]]
            x, y = interior_point(outline["points"], box, margin=6)
            assert_class_color(browser, x, y, p["class_id"])
    if task == "keypoints":
        keypoints = drawn(browser, "keypoint")
        expected = [(q["x"], q["y"]) for p in predictions for q in p["keypoints"]]
        assert sorted((k["x"], k["y"]) for k in keypoints) == sorted(expected)
        edges = drawn(browser, "edge")
        assert len(edges) == sum(max(len(p["keypoints"]) - 1, 0) for p in predictions)
        assert "joined in their index order" in by_id(browser, "note").text
    save_screenshot(browser, task, tmp_path)


def test_a_classification_is_a_ranked_list(browser: Any, server: str) -> None:
    open_page(browser, f"{server}/")
    shown = infer_on_page(browser, "shapes-classification/1")
    listed = [(d["class"], d["confidence"]) for d in drawn(browser, "class")]
    ranked = sorted(shown["predictions"], key=lambda p: -p["confidence"])
    assert listed == [(p["class"], p["confidence"]) for p in ranked] and listed
    items = browser.execute_script(
        "return [...document.querySelectorAll('#classes li')].map(li => li.textContent)"
    )
    assert items[0] == f"{shown['top']} {shown['confidence']:.3f} ✓"
    assert not drawn(browser, "box")


def test_the_page_lists_the_models_it_loaded(browser: Any, server: str) -> None:
    open_page(browser, f"{server}/")
    infer_on_page(browser, "shapes-detection/1")
    # Read in one script: the page rebuilds the table on every refresh.
    script = "return [...document.querySelectorAll('#models-table tbody tr')].map(r => r.innerText)"
    rows = wait_for(
        lambda: [r for r in browser.execute_script(script) if r.startswith("shapes-detection/1")],
        "model row",
    )
    assert "object-detection" in rows[0] and "onnxruntime on cpu" in rows[0]
    assert by_id(browser, "readiness").text == "ready"
    assert by_id(browser, "version").text.startswith("v")


@pytest.fixture(scope="module")
def keyed_server(serve_port: int, settings: ServerSettings) -> Iterator[str]:
    """The application behind an API key, under a route prefix of its own."""
    keyed = settings.model_copy(update={"api_keys": [SecretStr(PAGE_KEY)]})
    with deployed("page-keyed", small_app(keyed, composition="fused"), serve_port) as url:
        wait_until_ready(url, WAIT_S)
        yield url


def test_a_key_the_server_asks_for_stays_in_the_page(keyed_server: str) -> None:
    # A browser of its own, for the deployment of this application (see `browser`).
    with chromium() as browser:
        check_key_stays_in_the_page(browser, keyed_server)


def check_key_stays_in_the_page(browser: Any, keyed_server: str) -> None:
    open_page(browser, f"{keyed_server}/")
    needs_key = "This server needs an API key"
    wait_for(lambda: needs_key in by_id(browser, "models-error").text, "registry refusal")
    by_id(browser, "model-id").send_keys("shapes-detection/1")
    by_id(browser, "example").click()
    wait_for(lambda: "example.jpg" in by_id(browser, "drop-text").text, "example image")
    by_id(browser, "run").click()
    error = wait_for(lambda: by_id(browser, "error").is_displayed(), "refusal") and by_id(
        browser, "error"
    )
    assert error.text.startswith("HTTP 401: " + needs_key), error.text

    by_id(browser, "api-key").send_keys(PAGE_KEY)
    assert infer_on_page(browser, "shapes-detection/1")["predictions"]
    wait_for(lambda: not by_id(browser, "models-error").is_displayed(), "registry with key")
    kept = browser.execute_script(
        "return [location.href, document.cookie, localStorage.length, sessionStorage.length]"
    )
    assert kept == [f"{keyed_server}/", "", 0, 0]
