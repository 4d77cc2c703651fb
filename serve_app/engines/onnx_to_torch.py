"""ONNX → torch with onnx2torch, the first step of both torch forms.

onnx2torch reads convolution and dense weights from the graph's initializers, so the
graph is normalised first, to the form PyTorch's exporter writes: weights that
another exporter wrote as ``Constant`` nodes (PaddlePaddle, some TensorFlow tools)
become initializers, and a weight shared between layers (the TorchScript exporter
writes the second use as an ``Identity`` of the initializer) is read from the
initializer itself. A network that still cannot be converted falls back to ONNX
Runtime (``engines/factory.py``), with the reason named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from serve_app.engines.torch_engine import TorchSetup
from serve_app.errors import ModelLoadError


class ConversionError(ModelLoadError):
    """onnx2torch cannot convert this network."""


# Constant node attributes that hold a dense value, and how each becomes an array.
_CONSTANT_VALUES = {
    "value": lambda a: numpy_helper.to_array(a.t),
    "value_float": lambda a: np.array(a.f, np.float32),
    "value_floats": lambda a: np.array(a.floats, np.float32),
    "value_int": lambda a: np.array(a.i, np.int64),
    "value_ints": lambda a: np.array(a.ints, np.int64),
}


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Make each top-level ``Constant`` node with a dense value an initializer of the
    same name, in place. Strings and sparse values stay nodes; so does everything in
    graphs before IR 4, whose initializers must also be graph inputs."""
    graph = model.graph
    if model.ir_version < 4:
        return model
    kept = []
    for node in graph.node:
        attribute = node.attribute[0] if node.op_type == "Constant" and node.attribute else None
        to_array = _CONSTANT_VALUES.get(attribute.name) if attribute is not None else None
        if to_array is None:
            kept.append(node)
            continue
        graph.initializer.append(numpy_helper.from_array(to_array(attribute), node.output[0]))
    if len(kept) < len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)
    return model


def inline_initializer_identities(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewire uses of ``Identity(initializer)`` to the initializer itself, in place."""
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        source = node.input[0] if node.op_type == "Identity" and node.input else None
        if source is not None and (source in constants or source in alias):
            alias[node.output[0]] = alias.get(source, source)
        else:
            kept.append(node)
    if not alias:
        return model
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
    for output in graph.output:
        if output.name in alias:  # an output that is a weight keeps its Identity
            return model
    del graph.node[:]
    graph.node.extend(kept)
    return model


def convert_onnx(weights: Path, setup: TorchSetup) -> torch.nn.Module:
    """The network as an eval-mode torch module on ``setup``'s device, dtype and layout."""
    from onnx2torch import convert

    model = inline_initializer_identities(constants_to_initializers(onnx.load(str(weights))))
    try:
        module = convert(model)
    except NotImplementedError as exc:  # onnx2torch names the operator it lacks
        raise ConversionError(f"onnx2torch cannot convert {weights.name}: {exc}") from exc
    module = module.eval().to(setup.device, setup.dtype)
    if setup.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module
