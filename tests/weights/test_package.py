"""environment.json → typed preprocessing, parsed once when a package loads; a malformed
step fails the load, naming the model, not some later request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId, Task
from serve_app.core.spec import (
    IMAGENET,
    SYMMETRIC,
    UNNORMALIZED,
    ClassificationActivation,
    ContrastType,
    CropBox,
    InputNormalization,
    PreprocessingSpec,
    ResizeSpec,
)
from serve_app.errors import ModelLoadError
from serve_app.weights.package import parse_preprocessing, read_package
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
        read_package(ModelId("unit", "1"), folder)


def _package(tmp_path: Path, fixture_id: str = "fixture-yolov8/1") -> Path:
    return write_package(tmp_path / "unit" / "1", fixtures()[fixture_id])


@pytest.mark.parametrize(
    "declared",
    [
        # As Roboflow's server writes its cache.
        {
            "project_task_type": "instance-segmentation",
            "model_type": "yolov8n-seg",
            "model_id": "x",
        },
        # As the Roboflow API (and earlier versions of this server) name the fields.
        {"type": "instance-segmentation", "modelType": "yolov8n-seg"},
    ],
)
def test_model_type_is_read_in_either_spelling(tmp_path: Path, declared: dict) -> None:
    folder = _package(tmp_path, "fixture-yolov8-seg/1")
    (folder / "model_type.json").write_text(json.dumps(declared))
    spec = read_package(ModelId("unit", "1"), folder).spec
    assert (spec.task, spec.model_type) == (Task.INSTANCE_SEGMENTATION, "yolov8n-seg")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "model_type.json is missing"),
        ("{not json", "model_type.json is not readable JSON"),
        ('["object-detection"]', "model_type.json must hold a JSON object"),
        ('{"model_type": "yolov8n"}', "model_type.json has no 'project_task_type' or 'type'"),
        ('{"project_task_type": "object-detection"}', "has no 'model_type' or 'modelType'"),
        (
            '{"project_task_type": "semantic-segmentation", "model_type": "deeplabv3plus"}',
            "names task 'semantic-segmentation', which this server does not serve",
        ),
    ],
)
def test_a_task_that_cannot_be_told_is_an_error_naming_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    folder = _package(tmp_path)
    if content is None:
        (folder / "model_type.json").unlink()
    else:
        (folder / "model_type.json").write_text(content)
    with pytest.raises(ModelLoadError, match="unit/1") as error:
        read_package(ModelId("unit", "1"), folder)
    assert message in str(error.value)
    assert str(folder / "model_type.json") in str(error.value)


def test_roboflow_servers_best_onnx_is_the_network_where_weights_onnx_is_absent(
    tmp_path: Path,
) -> None:
    folder = _package(tmp_path, "fixture-classification/2")
    (folder / "weights.onnx").rename(folder / "best.onnx")
    package = read_package(ModelId("unit", "1"), folder)
    assert package.weights_path == folder / "best.onnx"
    (folder / "best.onnx").unlink()
    with pytest.raises(ModelLoadError, match="no network file"):
        read_package(ModelId("unit", "1"), folder)


@pytest.mark.parametrize(
    ("fixture_id", "normalization"),
    [
        ("fixture-yolov8/1", UNNORMALIZED),
        ("fixture-classification/1", UNNORMALIZED),  # YOLOv8 classifier: [0, 1]
        ("fixture-classification/2", SYMMETRIC),  # ViT
        ("fixture-classification/3", IMAGENET),  # ResNet
        ("fixture-rfdetr/1", IMAGENET),
        ("fixture-rfdetr-seg/1", IMAGENET),
    ],
)
def test_each_family_gets_the_input_normalisation_roboflow_gives_it(
    tmp_path: Path, fixture_id: str, normalization: InputNormalization
) -> None:
    spec = read_package(ModelId("unit", "1"), _package(tmp_path, fixture_id)).spec
    assert spec.normalization == normalization


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (None, "keypoints_metadata.json is missing"),
        ('[{"object_class_id": 0}]', "keypoints_metadata.json is malformed"),
        ('[{"object_class_id": 0, "keypoints": {"0": "a", "2": "c"}}]', "must run 0, 1, 2"),
    ],
)
def test_a_keypoint_model_must_name_its_keypoints(
    tmp_path: Path, metadata: str | None, message: str
) -> None:
    folder = _package(tmp_path, "fixture-yolov8-pose/1")
    assert read_package(ModelId("unit", "1"), folder).spec.keypoint_names == (
        ("left", "right", "top"),
        ("front", "back"),
    )
    if metadata is None:
        (folder / "keypoints_metadata.json").unlink()
    else:
        (folder / "keypoints_metadata.json").write_text(metadata)
    with pytest.raises(ModelLoadError, match=message):
        read_package(ModelId("unit", "1"), folder)


def _classifier(tmp_path: Path, multiclass: bool | None) -> Path:
    """A classifier package whose environment.json has this MULTICLASS (None: none)."""
    folder = _package(tmp_path, "fixture-classification/1")
    environment = json.loads((folder / "environment.json").read_text())
    environment.pop("MULTICLASS", None)
    if multiclass is not None:
        environment["MULTICLASS"] = multiclass
    (folder / "environment.json").write_text(json.dumps(environment))
    return folder


NONE, SIGMOID, SOFTMAX = (
    ClassificationActivation.NONE,
    ClassificationActivation.SIGMOID,
    ClassificationActivation.SOFTMAX,
)


@pytest.mark.parametrize(
    ("multiclass", "post_processing", "multilabel", "activation"),
    [
        (None, None, False, SOFTMAX),
        (False, None, False, SOFTMAX),
        (True, None, True, NONE),  # Roboflow's server reports legacy outputs as they are
        (None, {"type": "sigmoid", "fused": False}, True, SIGMOID),
        (True, {"type": "sigmoid", "fused": True}, True, NONE),
        (None, {"type": "softmax", "fused": False}, False, SOFTMAX),
        (False, {"type": "softmax", "fused": True}, False, NONE),
    ],
)
def test_a_classifier_scores_as_its_package_declares(
    tmp_path: Path,
    multiclass: bool | None,
    post_processing: dict | None,
    multilabel: bool,
    activation: ClassificationActivation,
) -> None:
    folder = _classifier(tmp_path, multiclass)
    if post_processing is not None:
        config = {"post_processing": post_processing}
        (folder / "inference_config.json").write_text(json.dumps(config))
    spec = read_package(ModelId("unit", "1"), folder).spec
    assert (spec.multilabel, spec.activation) == (multilabel, activation)


@pytest.mark.parametrize(
    ("multiclass", "config"),
    [
        (None, '{"post_processing": {"type": "nms", "fused": false}}'),
        (None, '{"post_processing": {"type": "sigmoid"}}'),
        (False, '{"post_processing": {"type": "sigmoid", "fused": false}}'),
        (None, "not json"),
    ],
)
def test_a_post_processing_that_cannot_be_followed_fails_the_load(
    tmp_path: Path, multiclass: bool | None, config: str
) -> None:
    folder = _classifier(tmp_path, multiclass)
    (folder / "inference_config.json").write_text(config)
    with pytest.raises(ModelLoadError, match="inference_config.json"):
        read_package(ModelId("unit", "1"), folder)
