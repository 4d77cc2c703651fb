"""A loopback stand-in for the Roboflow API's weights contract, counting what it serves.

``GET /ort/{dataset}/{version}?api_key=&nocache=true&device=&dynamic=true`` answers as
the API does, pointing at ``/files/{dataset}/{version}/{weights.onnx,environment.json}``
on the same server. Each model can be made to misbehave (short or corrupt bodies,
5xx answers, a download held until the test releases it).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

GOOD_KEY = "rf-good-key-0451"
FORBIDDEN_KEY = "rf-other-workspace-key-7731"

Mode = Literal["ok", "truncate", "corrupt"]


@dataclass
class FakeModel:
    package: Path
    """Folder of a model package, served as the model's files."""
    classes: tuple[str, ...]
    mode: Mode = "ok"
    fail_ort: int = 0
    """Answer this many ``/ort`` lookups with HTTP 503 before answering properly."""
    ort_delay_s: float = 0.0
    release: threading.Event | None = None
    """When set, the weights download waits for this event (60 s at most)."""


@dataclass
class FakeRoboflow:
    models: dict[str, FakeModel] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    """Requests by ``"{kind} {model_id}"``, kind ``ort``, ``weights.onnx``, ``environment.json``."""
    ort_queries: list[dict[str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    """The address it listens on and names in its links: loopback, or the host's side of
    a container bridge for a server in a container (tests/container/)."""

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}"

    def add(
        self, model_id: str, package: Path, classes: tuple[str, ...], **behaviour: Any
    ) -> FakeModel:
        """Serve ``package`` as ``model_id``, its classes named ``classes``."""
        model = FakeModel(package=package, classes=classes, **behaviour)
        self.models[model_id] = model
        return model

    def downloads(self, model_id: str) -> int:
        return self.hits[f"weights.onnx {model_id}"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        segments = parts.path.strip("/").split("/")
        if len(segments) == 3 and segments[0] == "ort":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._ort(request, f"{segments[1]}/{segments[2]}", query)
        elif len(segments) == 4 and segments[0] == "files":
            self._file(request, f"{segments[1]}/{segments[2]}", segments[3])
        else:
            _send(request, 404, b"{}")

    def _ort(self, request: BaseHTTPRequestHandler, model_id: str, query: dict[str, str]) -> None:
        self.hits[f"ort {model_id}"] += 1
        self.ort_queries.append(query)
        model = self.models.get(model_id)
        time.sleep(model.ort_delay_s if model else 0)
        key = query.get("api_key")
        if key == FORBIDDEN_KEY:
            return _send_json(request, 403, {"error": "forbidden"})
        if key != GOOD_KEY:
            return _send_json(request, 401, {"error": "invalid api key"})
        if model is None:
            return _send_json(request, 404, {"error": "not found"})
        if model.fail_ort > 0:
            model.fail_ort -= 1
            return _send_json(request, 503, {"error": "try again"})
        files = f"{self.url}/files/{model_id}"
        model_type = json.loads((model.package / "model_type.json").read_text())
        ort = {
            "model": f"{files}/weights.onnx",
            "environment": f"{files}/environment.json",
            "classes": list(model.classes),
            "type": model_type["type"],
            "modelType": model_type["modelType"],
            "colors": {name: "#FF0000" for name in model.classes},
        }
        keypoints = model.package / "keypoints_metadata.json"
        if keypoints.exists():
            ort["keypoints_metadata"] = json.loads(keypoints.read_text())
        _send_json(request, 200, {"ort": ort})

    def _file(self, request: BaseHTTPRequestHandler, model_id: str, name: str) -> None:
        self.hits[f"{name} {model_id}"] += 1
        model = self.models.get(model_id)
        if model is None or name not in ("weights.onnx", "environment.json"):
            return _send(request, 404, b"")
        body = (model.package / name).read_bytes()
        if name != "weights.onnx":
            return _send(request, 200, body)
        if model.release is not None:
            model.release.wait(60)
        if model.mode == "truncate":
            # Announce the whole file, send half, hang up.
            request.send_response(200)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body[: len(body) // 2])
            request.close_connection = True
            return None
        if model.mode == "corrupt":
            body = bytes(reversed(body))  # the right length, not a model
        _send(request, 200, body)
        return None


def _send_json(request: BaseHTTPRequestHandler, status: int, body: object) -> None:
    _send(request, status, json.dumps(body).encode())


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
