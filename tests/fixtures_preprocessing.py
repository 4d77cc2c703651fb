"""Fixture packages whose environment.json enables Roboflow's crop, colour, orientation
and resize steps, served by a second application beside the session's main one.

The models are the YOLOv8 fixture (``tools.fixtures``): fixed boxes in network-input
pixels, scored by the mean red and blue of the network input. tests/api/conftest.py
hands the fixtures to the tests there.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from serve_app.config import Composition, ServerSettings
from tests.serve_apps import deployed, small_app
from tools.fixtures.packages import LETTERBOX, STRETCH_SQUARE, Resize, fixtures, write_package

APP_NAME = "preprocessing"

# Keeps x 25..75 % and y 50..100 %: on an 800x400 image, the 400x200 box at (200, 200).
CROP = {"static-crop": {"enabled": True, "x_min": 25, "y_min": 50, "x_max": 75, "y_max": 100}}
CLASS_COLORS = {"red-thing": "#00FF00", "blue-thing": "#0000FF"}


def _contrast(kind: str) -> dict[str, object]:
    return {"contrast": {"enabled": True, "type": kind}}


# model id → (resize, extra PREPROCESSING steps, extra environment.json keys)
PACKAGES: dict[str, tuple[Resize, dict[str, object], dict[str, object]]] = {
    "pre-crop/1": (STRETCH_SQUARE, CROP, {}),
    "pre-crop/2": (LETTERBOX, CROP, {}),
    "pre-fit/1": (LETTERBOX, {}, {}),
    "pre-fit/2": (Resize(320, 320, "Fit (white edges) in"), {}, {}),
    "pre-fit/3": (Resize(320, 320, "Fit (grey edges) in"), {}, {}),
    "pre-contrast/1": (STRETCH_SQUARE, _contrast("Contrast Stretching"), {}),
    "pre-contrast/2": (STRETCH_SQUARE, _contrast("Histogram Equalization"), {}),
    "pre-contrast/3": (STRETCH_SQUARE, _contrast("Adaptive Equalization"), {}),
    "pre-gray/1": (STRETCH_SQUARE, {"grayscale": {"enabled": True}}, {}),
    "pre-orient/1": (STRETCH_SQUARE, {"auto-orient": {"enabled": True}}, {}),
    "pre-colors/1": (LETTERBOX, {}, {"COLORS": CLASS_COLORS}),
}


def write_preprocessing_models(root: Path) -> None:
    """Write :data:`PACKAGES` under ``root``, from the YOLOv8 letterbox fixture."""
    base = fixtures()["fixture-yolov8/1"]
    for model_id, (resize, steps, extra) in PACKAGES.items():
        folder = write_package(root / model_id, replace(base, resize=resize))
        environment_file = folder / "environment.json"
        environment = json.loads(environment_file.read_text())
        preprocessing = {**json.loads(environment["PREPROCESSING"]), **steps}
        environment.update(extra, PREPROCESSING=json.dumps(preprocessing))
        environment_file.write_text(json.dumps(environment))


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with an EXIF block whose only tag is Orientation (6: rotate 90° clockwise)."""
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # tag, SHORT, count, value
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


@pytest.fixture(scope="session")
def preprocessing_server(
    serve_port: int,
    settings: ServerSettings,
    composition: Composition,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Base URL of an application serving :data:`PACKAGES` (deleted at session end)."""
    root = tmp_path_factory.mktemp("preprocessing-models")
    write_preprocessing_models(root)
    app_settings = settings.model_copy(
        update={"local_models_dir": root, "model_cache_dir": tmp_path_factory.mktemp("cache")}
    )
    with deployed(
        APP_NAME, small_app(app_settings, composition=composition), serve_port
    ) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def preprocessing_client(preprocessing_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=preprocessing_server, timeout=60) as client:
        yield client
