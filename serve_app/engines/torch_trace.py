"""The torch engine's built form: one traced, frozen program per batch bucket.

Tracing runs the converted module once per bucket and records the operators it ran,
with every shape and constant fixed; freezing folds the weights in (and batch norms
into convolutions). The programs are saved with ``torch.jit.save`` and load without
onnx2torch, on any replica with the same kind of device, so they are what the engine
cache keeps and shares.

Why not ``torch.export``: onnx2torch's modules read shape and scale tensors as Python
values (``Resize``, ``Slice``, ``Reshape`` call ``.tolist()`` or branch on tensor
values), which ``torch.export`` and AOTInductor refuse as data-dependent; a trace at
fixed shapes records those values as the constants they are. torch 2.14 marks
``torch.jit`` deprecated in favour of ``torch.export``; this is the one place that
changes once onnx2torch's output exports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from serve_app.engines.torch_engine import Program, TorchEngine, TorchSetup

NAME = "torch-trace"


def program_file(folder: Path, bucket: int) -> Path:
    return folder / f"batch-{bucket}.ts"


def trace_buckets(
    module: torch.nn.Module,
    setup: TorchSetup,
    buckets: Sequence[int],
    folder: Path,
    progress: Callable[[float], None],
) -> None:
    """Trace, freeze and save ``module`` at each bucket's batch size into ``folder``."""
    height, width = setup.input_size
    for done, bucket in enumerate(buckets):
        example = torch.zeros((bucket, 3, height, width), dtype=setup.dtype, device=setup.device)
        if setup.channels_last:
            example = example.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns of the fixed shapes, torch.jit of its deprecation (see above).
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, (example,), check_trace=False)
            frozen = torch.jit.freeze(traced.eval())
            torch.jit.save(frozen, str(program_file(folder, bucket)))
        progress((done + 1) / len(buckets))


def load_traced(folder: Path, setup: TorchSetup, buckets: Sequence[int]) -> TorchEngine:
    programs: dict[int, Program] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for bucket in buckets:
            path = str(program_file(folder, bucket))
            programs[bucket] = torch.jit.load(path, map_location=setup.device)
    return TorchEngine(NAME, setup, programs)
