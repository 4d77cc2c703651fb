"""environment.json → typed preprocessing, parsed once when a package loads; a malformed
step fails the load, naming the model, not some later request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId
from serve_app.core.spec import ContrastType, CropBox, PreprocessingSpec, ResizeSpec
from serve_app.errors import ModelLoadError
from serve_app.weights.package import ModelPackage, parse_preprocessing
from tools.fixtures.packages import fixtures, write_package


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ({}, PreprocessingSpec()),
        (
            {"resize": {"width": 64, "height": "32"}, "auto-orient": {}},
            PreprocessingSpec(auto_orient=True, resize=ResizeSpec(64, 32, ResizeMode.STRETCH)),
        ),
        (
            {"static-crop": {"x_min": 1, "y_min": 2, "x_max": "30", "y_max": 40.5}},
            PreprocessingSpec(static_crop=CropBox(1, 2, 30, 40.5)),
        ),
        (
            {"contrast": {"type": "Adaptive Equalization"}, "grayscale": {"enabled": True}},
            PreprocessingSpec(contrast=ContrastType.ADAPTIVE_EQUALIZATION, grayscale=True),
        ),
        # Switched-off steps are left out, whatever else they hold.
        ({"grayscale": {"enabled": False}, "contrast": {"enabled": False}}, PreprocessingSpec()),
    ],
)
def test_steps_parse_into_typed_values(steps: dict, expected: PreprocessingSpec) -> None:
    assert parse_preprocessing(steps) == expected
    assert parse_preprocessing(json.dumps(steps)) == expected  # Roboflow's string form


@pytest.mark.parametrize(
    "steps",
    [
        {"static-crop": {"x_min": 1, "y_min": 2, "x_max": 3}},
        {"static-crop": {"x_min": "a", "y_min": 2, "x_max": 3, "y_max": 4}},
        {"contrast": {"type": "Sharpen"}},
        {"contrast": {}},
        {"resize": {"width": 64, "height": 64, "format": "Squash to"}},
    ],
)
def test_malformed_steps_raise(steps: dict) -> None:
    with pytest.raises((KeyError, ValueError)):
        parse_preprocessing(steps)


def test_a_malformed_step_fails_the_load_and_names_the_model(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "unit" / "1", fixtures()["fixture-yolov8/1"])
    environment = json.loads((folder / "environment.json").read_text())
    environment["PREPROCESSING"] = json.dumps({"contrast": {"enabled": True, "type": "Sharpen"}})
    (folder / "environment.json").write_text(json.dumps(environment))
    with pytest.raises(ModelLoadError, match="unit/1"):
        ModelPackage.load(ModelId("unit", "1"), folder)
