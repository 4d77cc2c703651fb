"""The torch engine: an ONNX network run as a torch module, on CPU or CUDA.

One class serves every torch form: the module onnx2torch converts (ready in about a
second: the engine a model starts on) and the traced programs built from it in the
background (``torch_trace.py``). On CUDA the network runs in FP16 where asked, in
channels-last memory where asked, and through one CUDA graph per batch bucket, a
batch padded up to its bucket; torch's kernel launches then cost one replay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from serve_app.core.engines import EngineOptions
from serve_app.core.spec import InputNormalization, ModelSpec
from serve_app.engines.base import DeviceEngine
from serve_app.engines.buckets import bucket_for, chunk_spans
from serve_app.engines.selection import Selection

Program = Callable[[torch.Tensor], Any]
"""A network as torch runs it: input tensor → a tensor or a sequence of them."""


@dataclass(frozen=True)
class TorchSetup:
    """Where and how a torch network runs."""

    device: torch.device
    dtype: torch.dtype
    normalization: InputNormalization
    input_size: tuple[int, int]
    """(height, width) of the network input."""
    channels_last: bool = False
    cuda_graphs: bool = False


def torch_setup(
    options: EngineOptions, spec: ModelSpec, selection: Selection, built: bool
) -> TorchSetup:
    cuda = selection.device == "cuda"
    if not cuda and options.num_threads:
        torch.set_num_threads(options.num_threads)
    return TorchSetup(
        device=torch.device("cuda" if cuda else "cpu"),
        dtype=torch.float16 if cuda and options.precision == "fp16" else torch.float32,
        normalization=spec.normalization,
        input_size=(spec.input_height, spec.input_width),
        channels_last=cuda and options.channels_last,
        cuda_graphs=built and cuda and options.cuda_graphs,
    )


class Normalizer:
    """[B, 3, H, W] RGB in 0..255 → the network's input: scaled to [0, 1], then
    ``(x - mean) / std`` per channel, in ``dtype``. The mean and std are put on the
    device once, not copied there with every batch."""

    def __init__(
        self, normalization: InputNormalization, dtype: torch.dtype, device: torch.device
    ) -> None:
        self._dtype = dtype
        self._mean_std: tuple[torch.Tensor, torch.Tensor] | None = None
        if not normalization.is_identity:
            mean, std = (
                torch.tensor(values, dtype=dtype, device=device).view(1, 3, 1, 1)
                for values in (normalization.mean, normalization.std)
            )
            self._mean_std = (mean, std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self._dtype) * (1.0 / 255.0)
        if self._mean_std is None:
            return x
        mean, std = self._mean_std
        return (x - mean) / std


def as_outputs(result: Any) -> list[torch.Tensor]:
    return [result] if isinstance(result, torch.Tensor) else list(result)


def run_in_chunks(
    run: Callable[[torch.Tensor], list[torch.Tensor]], x: torch.Tensor, largest: int
) -> list[torch.Tensor]:
    """``run`` over chunks of at most ``largest`` images, outputs joined in order."""
    parts = [run(x[start:stop]) for start, stop in chunk_spans(len(x), largest)]
    if len(parts) == 1:
        return parts[0]
    return [torch.cat(list(outputs)) for outputs in zip(*parts, strict=True)]


class TorchEngine(DeviceEngine):
    def __init__(
        self,
        name: str,
        setup: TorchSetup,
        programs: Mapping[int, Program] | Program,
        buckets: Sequence[int] | None = None,
    ) -> None:
        """``programs`` is one program for any batch size, or one per bucket. With
        ``buckets`` (always for per-bucket programs and CUDA graphs) a batch is
        padded up to its bucket; without, it runs as it comes."""
        self.name = name
        self.setup = setup
        self.device = str(setup.device)
        if isinstance(programs, Mapping):
            self._by_bucket, self._any_size = dict(programs), None
            self._buckets = tuple(sorted(programs))
        else:
            self._by_bucket, self._any_size = {}, programs
            self._buckets = tuple(buckets or ())
        self._graphs: dict[int, _CapturedGraph] = {}
        self._graph_lock = threading.Lock()
        self._normalize = Normalizer(setup.normalization, setup.dtype, setup.device)

    def _program_for(self, size: int) -> Program:
        return self._any_size if self._any_size is not None else self._by_bucket[size]

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self._normalize(images)
        if self.setup.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self._buckets:
            return [o.float() for o in as_outputs(self._program_for(len(x))(x))]
        return run_in_chunks(self._run_bucketed, x, self._buckets[-1])

    def _run_bucketed(self, x: torch.Tensor) -> list[torch.Tensor]:
        count = len(x)
        size = bucket_for(count, self._buckets)
        if size > count:
            pad = torch.zeros((size - count, *x.shape[1:]), dtype=x.dtype, device=x.device)
            x = torch.cat([x, pad])
        program = self._program_for(size)
        if self.setup.cuda_graphs and self.setup.device.type == "cuda":
            with self._graph_lock:  # one set of static buffers per bucket
                graph = self._graphs.get(size)
                if graph is None:
                    graph = self._graphs[size] = _CapturedGraph(program, x)
                outputs = graph.replay(x)
        else:
            outputs = as_outputs(program(x))
        return [o[:count].float() for o in outputs]

    def capture_graphs(self) -> None:
        """Capture every bucket's CUDA graph now (part of a background build), so no
        request pays for a capture."""
        if not (self.setup.cuda_graphs and self.setup.device.type == "cuda"):
            return
        height, width = self.setup.input_size
        for size in self._buckets:
            self.forward(torch.zeros((size, 3, height, width), device=self.setup.device))


class _CapturedGraph:
    """One bucket's CUDA graph: static input and output buffers, replayed per batch."""

    def __init__(self, program: Program, example: torch.Tensor) -> None:
        self._input = example.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up outside the graph, as capture requires
            for _ in range(2):
                program(self._input)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._outputs = as_outputs(program(self._input))

    def replay(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._input.copy_(x)
        self._graph.replay()
        # The next replay overwrites the static outputs.
        return [o.clone() for o in self._outputs]
