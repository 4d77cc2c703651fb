"""Helpers shared by tests: image encoding and request bodies."""

from __future__ import annotations

import base64
import io
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import httpx
import numpy as np
import pytest

from serve_app.examples import EXAMPLE_IMAGE
from serve_app.weights.config import BUNDLED_MODELS_DIR
from tools.shapes import EVAL_SEED_START, Scene, generate_scene


def jpeg_b64(image_bgr: np.ndarray, quality: int = 95) -> str:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def png_b64(image_bgr: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", image_bgr)
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def npy_b64(array: np.ndarray) -> str:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return base64.b64encode(out.getvalue()).decode()


def solid_image(width: int, height: int, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.full((height, width, 3), bgr, dtype=np.uint8)


def b64_image(image_bgr: np.ndarray) -> dict[str, str]:
    """A lossless base64 request image, so colour means survive exactly."""
    return {"type": "base64", "value": png_b64(image_bgr)}


EXAMPLE_JPEG = EXAMPLE_IMAGE
"""The README's example: three shapes the bundled detector finds."""


def example_image() -> dict[str, str]:
    """The README's example image as a base64 request image, bytes as sent by curl."""
    return {"type": "base64", "value": base64.b64encode(EXAMPLE_JPEG.read_bytes()).decode()}


def wait_until_ready(
    url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until ``GET /readiness`` answers 200 (a server still starting may refuse the
    connection); fails at ``timeout_s``, or at once when ``process`` has exited."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readiness", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process is None or process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, f"{url} not ready after {timeout_s:g} s"
        time.sleep(0.5)


VOLATILE_FIELDS = {"inference_id", "time", "detection_id"}
"""Response fields that differ on every call."""


def stable(body: object) -> object:
    """A response body without its per-call ids and timings, to compare answers."""
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE_FIELDS}
    if isinstance(body, list):
        return [stable(v) for v in body]
    return body


def box_of(prediction: dict[str, float]) -> tuple[float, float, float, float]:
    """x1, y1, x2, y2 of a Roboflow prediction (which gives the centre and size)."""
    x, y, w, h = prediction["x"], prediction["y"], prediction["width"], prediction["height"]
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two x1, y1, x2, y2 boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_pairs(
    truths: Sequence[tuple[int, tuple[float, ...]]],
    predictions: Sequence[tuple[int, tuple[float, ...]]],
    iou_threshold: float = 0.5,
) -> list[tuple[int, int]]:
    """Greedy one-to-one matches of (class id, box) pairs, same class, IoU ≥ threshold,
    as (truth index, prediction index)."""
    unmatched = dict(enumerate(predictions))
    pairs = []
    for t, (cls, box) in enumerate(truths):
        best = max(
            (i for i, p in unmatched.items() if p[0] == cls),
            key=lambda i: box_iou(box, unmatched[i][1]),
            default=None,
        )
        if best is not None and box_iou(box, unmatched[best][1]) >= iou_threshold:
            del unmatched[best]
            pairs.append((t, best))
    return pairs


def match_count(
    truths: Sequence[tuple[int, tuple[float, ...]]],
    predictions: Sequence[tuple[int, tuple[float, ...]]],
    iou_threshold: float = 0.5,
) -> int:
    """How many of :func:`match_pairs` there are."""
    return len(match_pairs(truths, predictions, iou_threshold))


@dataclass(frozen=True)
class Resized:
    """How a solid image of ``width`` x ``height`` lands in a fixture model's input,
    worked out by hand, so tests can check answers without the server's own maths."""

    width: int
    height: int
    scale_x: float
    scale_y: float
    pad_y: float
    channel_mean: float
    """Mean of a full (255) channel over the network input, letterbox bars included."""

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Original-image (x, y) points [..., 2] → network-input pixels."""
        return np.asarray(points, np.float64) * [self.scale_x, self.scale_y] + [0, self.pad_y]

    def box_to_original(self, xyxy: tuple[float, ...]) -> tuple[float, ...]:
        """A network-input x1, y1, x2, y2 box → original-image pixels."""
        x1, y1, x2, y2 = xyxy
        sx, sy, pad = self.scale_x, self.scale_y, self.pad_y
        return x1 / sx, (y1 - pad) / sy, x2 / sx, (y2 - pad) / sy


# 640x480 letterboxed into 320x320: scale 0.5, 40 px bars above and below.
LETTERBOXED = Resized(640, 480, 0.5, 0.5, 40, channel_mean=0.75)
# 800x400 stretched to 320x256.
STRETCHED = Resized(800, 400, 0.4, 0.64, 0, channel_mean=1.0)


@contextmanager
def loopback_image_server(png_for_path: Callable[[str], bytes]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering ``GET path`` with ``png_for_path(path)``
    as ``image/png``; yields its base URL (the test settings allow loopback URLs)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
            body = png_for_path(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url


@contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` serving on 127.0.0.1 in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def scenes_through_http(
    client: httpx.Client, route: str, model_id: str, count: int, per_request: int = 10
) -> Iterator[tuple[Scene, dict]]:
    """Each of ``count`` generated scenes unseen in training (seeds from
    ``EVAL_SEED_START``) and ``model_id``'s answer for it, sent as JPEG lists."""
    for start in range(0, count, per_request):
        seeds = range(EVAL_SEED_START + start, EVAL_SEED_START + min(start + per_request, count))
        scenes = [generate_scene(seed) for seed in seeds]
        images = [{"type": "base64", "value": jpeg_b64(s.image)} for s in scenes]
        r = client.post(route, json={"model_id": model_id, "image": images})
        assert r.status_code == 200, r.text
        for scene, answer in zip(scenes, r.json(), strict=True):
            assert answer["image"] == {
                "width": scene.image.shape[1],
                "height": scene.image.shape[0],
            }
            yield scene, answer


def skip_unless_bundled(model_id: str, train: str) -> pytest.MarkDecorator:
    """Skip a test of a trained model the repository does not hold yet; ``train`` is the
    ``tools.train_shapes`` command that makes it."""
    return pytest.mark.skipif(
        not (BUNDLED_MODELS_DIR / model_id / "weights.onnx").is_file(),
        reason=f"{model_id} is not bundled yet (train it: python -m tools.train_shapes {train})",
    )
