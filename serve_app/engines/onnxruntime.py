"""ONNX Runtime on CPU (x86 and ARM), or on CUDA where the installed ONNX Runtime
has that execution provider (``onnxruntime-gpu``, which replaces ``onnxruntime``).

On CPU every session of the process draws its activations from one arena registered
with ONNX Runtime's environment, instead of an arena each: a replica holding many
models then pays for one model's activations, not for each (14 MiB per 640x640
detector), at the same speed under load; what a model holds is its weights
(``replica/memory.py``).

On CPU the engine can also hold two sessions of the network: one with
``num_threads`` intra-op threads for passes that run beside others (one thread each
measured best under load), and one with ``lone_threads`` for a pass that runs alone,
so a lone request gets every core the replica has (the model replica says when a
pass is alone: ``replica/host.py``). The second costs its own copy of the weights.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime as ort

from serve_app.core.spec import UNNORMALIZED, InputNormalization
from serve_app.engines.base import Engine

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"

    def __init__(
        self,
        weights: Path,
        batch_size: int | None,
        num_threads: int = 0,
        normalization: InputNormalization = UNNORMALIZED,
        cuda: bool = False,
        lone_threads: int = 0,
    ) -> None:
        providers = [CPU_PROVIDER]
        if cuda and CUDA_PROVIDER in ort.get_available_providers():
            providers.insert(0, CUDA_PROVIDER)
        on_cpu = providers == [CPU_PROVIDER]
        # A lone session only where it has more threads than the other (0 there means
        # the runtime's own choice: a thread per core already).
        wider = on_cpu and 0 < num_threads < lone_threads
        self.session = _session(weights, num_threads, providers, shared_arena=on_cpu)
        """The session of passes that run beside others."""
        self.lone_session = _session(weights, lone_threads, providers, True) if wider else None
        """The session of a pass that runs alone; None where it would be the same."""
        self._threads = num_threads
        self._lone_threads = lone_threads if wider else num_threads
        self.device = "cuda:0" if CUDA_PROVIDER in self.session.get_providers() else "cpu"
        self._input_name = self.session.get_inputs()[0].name
        self._batch_size = batch_size
        self._normalization = None
        if not normalization.is_identity:  # [C, 1, 1], to broadcast over NCHW
            self._normalization = (
                np.array(normalization.mean, np.float32)[:, None, None],
                np.array(normalization.std, np.float32)[:, None, None],
            )

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        return self._run(self.session, images)

    def infer_alone(self, images: np.ndarray) -> list[np.ndarray]:
        return self._run(self.lone_session or self.session, images)

    def threads(self, alone: bool) -> int:
        return self._lone_threads if alone else self._threads

    def _run(self, session: ort.InferenceSession, images: np.ndarray) -> list[np.ndarray]:
        tensor = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
        tensor *= 1.0 / 255.0
        if self._normalization is not None:
            mean, std = self._normalization
            tensor -= mean
            tensor /= std
        if self._batch_size is None:
            return list(session.run(None, {self._input_name: tensor}))
        # A network exported with a fixed batch runs in chunks of exactly that size.
        chunks = []
        n = self._batch_size
        for start in range(0, len(tensor), n):
            chunk = tensor[start : start + n]
            pad = n - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)])
            outputs = session.run(None, {self._input_name: chunk})
            chunks.append([o[: n - pad] for o in outputs])
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]


def _session(
    weights: Path, threads: int, providers: list[str], shared_arena: bool
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle intra-op threads would otherwise spin, taking cores that decoding and the
    # other replicas need (bench/README.md: 51 against 23 ms of CPU per image).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if shared_arena:
        _register_shared_arena()
        options.add_session_config_entry("session.use_env_allocators", "1")
    return ort.InferenceSession(str(weights), sess_options=options, providers=providers)


@functools.cache
def _register_shared_arena() -> None:
    """The process's CPU arena, shared by the sessions that ask for it (once: ONNX
    Runtime refuses a second registration)."""
    memory = ort.OrtMemoryInfo(
        "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
    )
    # -1: ONNX Runtime's defaults for the arena's growth and limits.
    ort.create_and_register_allocator(memory, ort.OrtArenaCfg(0, -1, -1, -1))
