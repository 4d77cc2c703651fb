"""ONNX → torch with onnx2torch, the first step of both torch forms.

Exports that share a weight between layers (the TorchScript exporter writes the
second use as an ``Identity`` of the initializer) are rewired to the initializer
first: onnx2torch wants convolution weights as initializers. An operator onnx2torch
cannot convert makes the model fall back to ONNX Runtime, with the operator named.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from serve_app.engines.torch_engine import TorchSetup
from serve_app.errors import ModelLoadError


class ConversionError(ModelLoadError):
    """onnx2torch cannot convert this network."""


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

    model = inline_initializer_identities(onnx.load(str(weights)))
    try:
        module = convert(model)
    except NotImplementedError as exc:  # onnx2torch names the operator it lacks
        raise ConversionError(f"onnx2torch cannot convert {weights.name}: {exc}") from exc
    module = module.eval().to(setup.device, setup.dtype)
    if setup.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module
