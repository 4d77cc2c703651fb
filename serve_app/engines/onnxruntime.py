"""ONNX Runtime on CPU (x86 and ARM), or on CUDA where the installed ONNX Runtime
has that execution provider (``onnxruntime-gpu``, which replaces ``onnxruntime``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from serve_app.core.spec import UNNORMALIZED, InputNormalization
from serve_app.engines.base import Engine

CUDA_PROVIDER = "CUDAExecutionProvider"


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"

    def __init__(
        self,
        weights: Path,
        batch_size: int | None,
        num_threads: int = 0,
        normalization: InputNormalization = UNNORMALIZED,
        cuda: bool = False,
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # Idle intra-op threads would otherwise spin, taking cores that decoding and the
        # other replicas need (bench/README.md: 51 against 23 ms of CPU per image).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if cuda and CUDA_PROVIDER in ort.get_available_providers():
            providers.insert(0, CUDA_PROVIDER)
        self._session = ort.InferenceSession(
            str(weights), sess_options=options, providers=providers
        )
        self.device = "cuda:0" if CUDA_PROVIDER in self._session.get_providers() else "cpu"
        self._input_name = self._session.get_inputs()[0].name
        self._batch_size = batch_size
        self._normalization = None
        if not normalization.is_identity:  # [C, 1, 1], to broadcast over NCHW
            self._normalization = (
                np.array(normalization.mean, np.float32)[:, None, None],
                np.array(normalization.std, np.float32)[:, None, None],
            )

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        tensor = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
        tensor *= 1.0 / 255.0
        if self._normalization is not None:
            mean, std = self._normalization
            tensor -= mean
            tensor /= std
        if self._batch_size is None:
            return list(self._session.run(None, {self._input_name: tensor}))
        # A network exported with a fixed batch runs in chunks of exactly that size.
        chunks = []
        n = self._batch_size
        for start in range(0, len(tensor), n):
            chunk = tensor[start : start + n]
            pad = n - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)])
            outputs = self._session.run(None, {self._input_name: chunk})
            chunks.append([o[: n - pad] for o in outputs])
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]
