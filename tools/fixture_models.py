"""Tiny ONNX models with outputs you can predict, for tests of every output layout.

Each model ignores what the image shows except its mean colour: it reports fixed
boxes (in network-input pixels) whose scores are the image's mean red or blue level.
So a test can compute exactly what the server must answer for an image, and can tell
whether images in one batch were kept apart.

Run ``python -m tools.fixture_models OUT_DIR`` to write them; tests call
:func:`write_fixture_models` into a temporary folder.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


@dataclass(frozen=True)
class FixtureBox:
    cx: float
    cy: float
    w: float
    h: float
    class_id: int
    channel: int
    """Input channel (0 red, 1 green, 2 blue) whose mean becomes the box's score."""
    score_scale: float = 1.0


# Class 0's second box overlaps the first (IoU 0.6) with a lower score: NMS removes it.
YOLOV8_BOXES = (
    FixtureBox(100, 100, 80, 60, class_id=0, channel=0),
    FixtureBox(120, 100, 80, 60, class_id=0, channel=0, score_scale=0.9),
    FixtureBox(220, 200, 50, 90, class_id=1, channel=2),
)
YOLOV8_CLASSES = ("red-thing", "blue-thing")


def yolov8_detection_model(
    height: int | None, width: int | None, batch: int | None = None
) -> onnx.ModelProto:
    """``output0`` [B, 4 + C, N] with the fixed :data:`YOLOV8_BOXES`.

    ``height``/``width``/``batch`` None make that input dimension symbolic.
    """
    n, c = len(YOLOV8_BOXES), len(YOLOV8_CLASSES)
    boxes = np.array([[b.cx, b.cy, b.w, b.h] for b in YOLOV8_BOXES], np.float32).T  # [4, N]
    # Score of (class k, box j) = sum over channels of means[ch] * weight[ch, k, j].
    weights = np.zeros((3, c, n), np.float32)
    for j, b in enumerate(YOLOV8_BOXES):
        weights[b.channel, b.class_id, j] = b.score_scale
    nodes = [
        # Per-image channel means [B, 3] @ weights [3, C*N] → scores [B, C, N].
        helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["means", "score_weights"], ["scores_flat"]),
        helper.make_node("Reshape", ["scores_flat", "scores_shape"], ["scores"]),
        helper.make_node("Shape", ["images"], ["in_shape"], start=0, end=1),
        helper.make_node("Concat", ["in_shape", "box_tail"], ["box_shape"], axis=0),
        helper.make_node("Expand", ["boxes", "box_shape"], ["boxes_b"]),
        helper.make_node("Concat", ["boxes_b", "scores"], ["output0"], axis=1),
    ]
    initializers = [
        numpy_helper.from_array(weights.reshape(3, c * n), "score_weights"),
        numpy_helper.from_array(np.array([-1, c, n], np.int64), "scores_shape"),
        numpy_helper.from_array(np.array([4, n], np.int64), "box_tail"),
        numpy_helper.from_array(boxes[None], "boxes"),
    ]
    image_input = helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [batch or "batch", 3, height or "height", width or "width"]
    )
    output = helper.make_tensor_value_info(
        "output0", TensorProto.FLOAT, [batch or "batch", 4 + c, n]
    )
    graph = helper.make_graph(nodes, "fixture_yolov8", [image_input], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_package(
    dest: Path,
    model: onnx.ModelProto,
    class_names: tuple[str, ...],
    preprocessing: dict[str, object],
    model_type: dict[str, str],
) -> Path:
    """Write a model package folder as the server reads it."""
    dest.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dest / "weights.onnx"))
    environment = {
        "PREPROCESSING": json.dumps(preprocessing),
        "CLASS_MAP": {str(i): name for i, name in enumerate(class_names)},
    }
    (dest / "environment.json").write_text(json.dumps(environment))
    (dest / "model_type.json").write_text(json.dumps(model_type))
    return dest


def resize_step(width: int, height: int, fmt: str) -> dict[str, object]:
    return {"resize": {"enabled": True, "width": width, "height": height, "format": fmt}}


def write_fixture_models(root: Path) -> dict[str, Path]:
    """Write every fixture package under ``root``; returns model id → folder."""
    detection_type = {"type": "object-detection", "modelType": "yolov8n"}
    specs = {
        # Fixed 320x320 input, letterboxed.
        "fixture-yolov8/1": (
            yolov8_detection_model(320, 320),
            resize_step(320, 320, "Fit (black edges) in"),
        ),
        # Symbolic height/width: the size comes from environment.json; stretched.
        "fixture-yolov8/2": (
            yolov8_detection_model(None, None),
            resize_step(320, 256, "Stretch to"),
        ),
        # A batch dimension fixed at 1, as some exports have.
        "fixture-yolov8/3": (
            yolov8_detection_model(320, 320, batch=1),
            resize_step(320, 320, "Stretch to"),
        ),
    }
    paths = {}
    for model_id, (model, preprocessing) in specs.items():
        paths[model_id] = write_package(
            root / model_id, model, YOLOV8_CLASSES, preprocessing, detection_type
        )
    return paths


if __name__ == "__main__":
    for model_id, path in write_fixture_models(Path(sys.argv[1])).items():
        print(model_id, path)
