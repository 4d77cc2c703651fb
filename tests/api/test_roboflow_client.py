"""Roboflow's own ``roboflow`` Python package, unchanged, against this server.

Its model classes with ``local=`` post to the classic route (form-encoded base64, or
a multipart ``file`` on a path with a doubled slash for segmentation). They run here
against the session's cache laid out as Roboflow's server writes it, with every
socket but loopback refused, so nothing reaches the network (the package asks
Roboflow's API only for workspaces, which these tests never touch).
"""

from __future__ import annotations

import base64
import importlib
import io
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support import solid_image, stable

API_KEY = "any-key-the-server-ignores"
WORKSPACE = "my-workspace"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection and name lookup that is not loopback."""
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"test refused a connection to {host}")
        connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("localhost", "127.0.0.1", "::1", None):
            raise OSError(f"test refused to look up {host}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@dataclass(frozen=True)
class ModelClasses:
    detection: Any
    classification: Any
    segmentation: Any
    keypoints: Any


@pytest.fixture(scope="module")
def roboflow() -> Iterator[ModelClasses]:
    """The package's model classes, its Roboflow URLs pointed at a closed loopback port
    as well (it reads them when first imported)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("API_URL", "OBJECT_DETECTION_URL", "INSTANCE_SEGMENTATION_URL"):
            env.setenv(name, "http://127.0.0.1:9")
        env.setenv("SERVERLESS_URL", "http://127.0.0.1:9")
        models = "roboflow.models"
        yield ModelClasses(
            importlib.import_module(f"{models}.object_detection").ObjectDetectionModel,
            importlib.import_module(f"{models}.classification").ClassificationModel,
            importlib.import_module(f"{models}.instance_segmentation").InstanceSegmentationModel,
            importlib.import_module(f"{models}.keypoint_detection").KeypointDetectionModel,
        )


@pytest.fixture(scope="module")
def image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client") / "red-and-blue.png"
    Image.fromarray(solid_image(640, 480, (255, 0, 255))).save(path)
    return path


def as_the_client_sends(path: Path, image_format: str) -> str:
    """The base64 image file the package makes of an image file: a PNG for detection,
    else a JPEG of quality 90."""
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, quality=90, format=image_format)
    return base64.b64encode(buffer.getvalue()).decode()


def served(
    client: httpx.Client, route: str, model_id: str, path: Path, image_format: str = "JPEG"
) -> dict:
    image = {"type": "base64", "value": as_the_client_sends(path, image_format)}
    r = client.post(route, json={"model_id": model_id, "image": image})
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


def own_fields(prediction: dict) -> dict:
    """A prediction as the server sent it, without what the package adds."""
    return {k: v for k, v in prediction.items() if k not in ("image_path", "prediction_type")}


@pytest.mark.usefixtures("loopback_only")
@pytest.mark.parametrize(
    ("kind", "model_id", "route", "image_format", "check"),
    [
        # The package asks for 40% confidence and 30% overlap: the server's defaults.
        ("detection", "rf-cache-detection/1", "/infer/object_detection", "PNG", "class"),
        # Posted as a multipart file to //{dataset}/{version}.
        (
            "segmentation",
            "rf-cache-segmentation/1",
            "/infer/instance_segmentation",
            "JPEG",
            "points",
        ),
        ("keypoints", "rf-cache-keypoints/1", "/infer/keypoints_detection", "JPEG", "keypoints"),
    ],
)
def test_model_classes_answering_a_group_of_predictions(
    roboflow: ModelClasses,
    server: str,
    client: httpx.Client,
    image_path: Path,
    kind: str,
    model_id: str,
    route: str,
    image_format: str,
    check: str,
) -> None:
    model_class = getattr(roboflow, kind)
    model_path = f"{WORKSPACE}/{model_id}"
    if kind == "segmentation":  # takes no version of its own
        model = model_class(API_KEY, model_path, local=f"{server}/")
    else:
        model = model_class(API_KEY, model_path, version="1", local=f"{server}/")
    group = model.predict(str(image_path)).json()
    expected = served(client, route, model_id, image_path, image_format)
    assert stable([own_fields(p) for p in group["predictions"]]) == stable(expected["predictions"])
    assert group["predictions"] and all(p[check] for p in group["predictions"])


@pytest.mark.usefixtures("loopback_only")
def test_classification_model(
    roboflow: ModelClasses, server: str, client: httpx.Client, image_path: Path
) -> None:
    model = roboflow.classification(
        API_KEY, f"{WORKSPACE}/rf-cache-classification/2", version="2", local=f"{server}/"
    )
    (answer,) = model.predict(str(image_path)).json()["predictions"]
    expected = served(client, "/infer/classification", "rf-cache-classification/2", image_path)
    assert stable(own_fields(answer)) == stable(expected)
    assert answer["top"] == expected["top"] and answer["predictions"]


def test_the_guard_refuses_the_network(loopback_only: None) -> None:
    with pytest.raises(OSError, match="refused"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
