"""Helpers shared by tests: image encoding and request bodies."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


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


def match_count(
    truths: list[tuple[int, tuple[float, ...]]],
    predictions: list[tuple[int, tuple[float, ...]]],
    iou_threshold: float = 0.5,
) -> int:
    """Greedy one-to-one matches of (class id, box) pairs, same class, IoU ≥ threshold."""
    unmatched = list(predictions)
    matched = 0
    for cls, box in truths:
        best = max(
            (p for p in unmatched if p[0] == cls),
            key=lambda p: box_iou(box, p[1]),
            default=None,
        )
        if best is not None and box_iou(box, best[1]) >= iou_threshold:
            unmatched.remove(best)
            matched += 1
    return matched


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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
