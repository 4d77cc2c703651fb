"""Write a trained network as a Roboflow-style model package folder.

A package is ``weights.onnx`` (input ``images`` float32 [B, 3, H, W], B dynamic),
``environment.json`` (preprocessing serialised as a JSON string, class map, colours),
``model_type.json`` and, for keypoint models, ``keypoints_metadata.json`` (Roboflow's
list of ``{"object_class_id", "keypoints": {index: name}}``), as the server's
``serve_app.weights.package`` reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
from torch import nn

from serve_app.core.frames import ResizeMode
from tools.shapes import CLASS_NAMES, KEYPOINT_NAMES

CLASS_COLOURS = {"circle": "#FF0000", "square": "#00C000", "triangle": "#0060FF"}
OPSET = 17


def write_package(
    folder: Path,
    module: nn.Module,
    output_names: tuple[str, ...],
    width: int,
    height: int,
    mode: ResizeMode,
    task: str,
    model_type: str,
) -> None:
    """Export ``module`` (images → ``output_names``) and its metadata into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(module, folder / "weights.onnx", output_names, width, height)
    preprocessing = {
        "auto-orient": {"enabled": True},
        "resize": {"enabled": True, "width": width, "height": height, "format": mode.value},
    }
    environment: dict[str, object] = {
        "PREPROCESSING": json.dumps(preprocessing),
        "CLASS_MAP": {str(i): name for i, name in enumerate(CLASS_NAMES)},
        "COLORS": CLASS_COLOURS,
    }
    if task == "classification":
        environment["MULTICLASS"] = False
    (folder / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    model = {"type": task, "modelType": model_type}
    (folder / "model_type.json").write_text(json.dumps(model, indent=2) + "\n")
    if task == "keypoint-detection":
        metadata = [
            {
                "object_class_id": class_id,
                "object_class_name": name,
                "keypoints": dict(enumerate(KEYPOINT_NAMES[name])),
            }
            for class_id, name in enumerate(CLASS_NAMES)
        ]
        (folder / "keypoints_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def export_onnx(
    module: nn.Module, path: Path, output_names: tuple[str, ...], width: int, height: int
) -> None:
    """Trace ``module`` in eval mode to ONNX with a dynamic batch dimension, then check it.

    Every output dimension but the batch is written as a fixed number, as in
    Roboflow's exports (the tracer would leave some of them symbolic).
    """
    module.eval()
    example = torch.zeros(1, 3, height, width)
    dynamic_axes = {"images": {0: "batch"}, **{name: {0: "batch"} for name in output_names}}
    with torch.no_grad():
        outputs = module(example)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["images"],
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter folds BatchNorm and keeps the graph small
        )
    model = onnx.load(str(path))
    for output, value in zip(model.graph.output, outputs, strict=True):
        for dim, size in zip(output.type.tensor_type.shape.dim[1:], value.shape[1:], strict=True):
            dim.dim_value = size
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
