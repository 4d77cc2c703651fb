"""HTTP calls of ``rfserve infer`` and ``rfserve bench`` to any Roboflow-compatible
server: this one or Roboflow's. Only httpx: neither command needs Ray, nor the
serving stages."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import httpx

TASK_ROUTES = {
    "object-detection": "object_detection",
    "instance-segmentation": "instance_segmentation",
    "keypoint-detection": "keypoints_detection",
    "classification": "classification",
}
"""``/infer/{route}`` of each task, as both servers name them."""

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_LONGEST_RETRY_WAIT_S = 5.0


class ServerError(Exception):
    """The server answered with an error status, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Answer:
    body: Any
    """The JSON answer: an object, or a list of them for a list of images."""
    seconds: float
    """Round trip, as the client saw it."""


class InferenceClient:
    """One connection pool to ``host``; safe to share between threads (httpx's is).

    ``busy_retries``: how often a 503 is retried, after its ``Retry-After`` (at most
    5 s) or a second. Both servers answer 503 for a moment they expect to pass: ours
    when a stage's queue is full, Roboflow's while another request loads the model."""

    def __init__(
        self, host: str, api_key: str | None, timeout_s: float = 120.0, busy_retries: int = 0
    ) -> None:
        self.host = host.rstrip("/")
        self._api_key = api_key
        self._http = httpx.Client(base_url=self.host, timeout=timeout_s)
        self._busy_retries = busy_retries

    def close(self) -> None:
        self._http.close()

    def classic(self, model_id: str, image: bytes, **query: str | float) -> Answer:
        """``POST /{dataset}/{version}`` with the image file's base64 as the body, as
        Roboflow's classic clients send it: both servers answer it for every task."""
        params = {**query, **({"api_key": self._api_key} if self._api_key else {})}
        body = base64.b64encode(image)
        path = f"/{model_id.strip('/')}"
        return self._call("POST", path, params=params, content=body, headers=_FORM)

    def infer(self, task_route: str, model_id: str, images: list[str]) -> Answer:
        """``POST /infer/{task_route}`` with base64 ``images`` (a list when several)."""
        payload = [{"type": "base64", "value": value} for value in images]
        body: dict[str, Any] = {
            "model_id": model_id,
            "image": payload if len(payload) > 1 else payload[0],
        }
        if self._api_key:
            body["api_key"] = self._api_key
        return self._call("POST", f"/infer/{task_route}", json=body)

    def task_route(self, model_id: str) -> str:
        """The ``/infer`` route of ``model_id``'s task, from ``POST /model/add``, which
        loads the model and describes what is loaded on either server."""
        body = {"model_id": model_id, **({"api_key": self._api_key} if self._api_key else {})}
        answer = self._call("POST", "/model/add", json=body).body
        for model in answer.get("models", []):
            if model.get("model_id") == model_id:
                task = str(model.get("task_type"))
                if task not in TASK_ROUTES:
                    raise ServerError(f"model {model_id} is a {task} model: no /infer route")
                return TASK_ROUTES[task]
        raise ServerError(f"the server loaded {model_id} but does not list it in /model/add")

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        for retry in range(self._busy_retries, -1, -1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise ServerError(f"cannot reach {self.host} ({type(exc).__name__})") from None
            if response.status_code != 503 or retry == 0:
                break
            time.sleep(_retry_wait_s(response))
        if response.status_code != 200:
            raise ServerError(error_message(response), response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise ServerError(f"{path} answered something that is not JSON") from None
        return Answer(body, response.elapsed.total_seconds())


def _retry_wait_s(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", 1)), _LONGEST_RETRY_WAIT_S)
    except ValueError:  # an HTTP date: not worth parsing for a few seconds
        return 1.0


def error_message(response: httpx.Response) -> str:
    """The server's own words: ``message`` (both servers' errors), FastAPI's
    ``detail``, else the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail"):
            if body.get(key):
                return f"HTTP {response.status_code}: {body[key]}"
    return f"HTTP {response.status_code} {response.reason_phrase}"
