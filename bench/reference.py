"""The reference: the same engine the model replica builds, run in this process with no
HTTP, no Ray and no other load, on images already at the network's input size."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from serve_app.config import EngineConfig
from serve_app.engines import Engine, create_engine
from serve_app.preprocessing.pipeline import prepare_image
from serve_app.weights import ModelPackage

WARMUP_RUNS = 3


@dataclass(frozen=True)
class RawResult:
    batch_size: int
    images_per_s: float
    runs: int
    seconds: float


def network_inputs(images_bgr: Iterable[np.ndarray], package: ModelPackage) -> list[np.ndarray]:
    """HxWx3 uint8 RGB at the network's input size, prepared as the server prepares them."""
    return [prepare_image(image, package).pixels for image in images_bgr]


def make_batches(pixels: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """[B, H, W, 3] batches that go round ``pixels``, every batch full."""
    count = max(1, -(-len(pixels) // batch_size))
    return [
        np.stack([pixels[(k * batch_size + j) % len(pixels)] for j in range(batch_size)])
        for k in range(count)
    ]


def measure_engine(engine: Engine, batches: Sequence[np.ndarray], duration_s: float) -> RawResult:
    """Images/s of back-to-back ``engine.infer`` calls for about ``duration_s``."""
    for batch in batches[:WARMUP_RUNS]:
        engine.infer(batch)
    runs = images = 0
    start = time.perf_counter()
    deadline = start + duration_s
    while time.perf_counter() < deadline:
        batch = batches[runs % len(batches)]
        engine.infer(batch)
        runs += 1
        images += len(batch)
    seconds = time.perf_counter() - start
    return RawResult(len(batches[0]), images / seconds, runs, seconds)


def measure_raw(
    package: ModelPackage,
    engine_config: EngineConfig,
    pixels: Sequence[np.ndarray],
    batch_sizes: Iterable[int],
    duration_s: float,
) -> list[RawResult]:
    """One engine, built as the model replica builds it (same thread budget), per batch size."""
    engine = create_engine(engine_config, package)
    return [
        measure_engine(engine, make_batches(pixels, size), duration_s)
        for size in sorted(set(batch_sizes))
    ]
