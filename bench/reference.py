"""The reference: the model's engine alone, driven to saturate the machine.

No HTTP, no Ray, no decoding: images already at the network's input size go straight
into ONNX Runtime sessions built as the model replica builds them. The best over
intra-op thread counts, sessions side by side (one thread each: on few cores, several
single-thread sessions do more work than one session with several threads) and batch
sizes is what this machine can do with this model: the ceiling a server is measured
against.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from serve_app.core.engines import EngineOptions
from serve_app.core.requests import PreprocessOptions
from serve_app.core.spec import ModelPackage
from serve_app.engines.base import Engine
from serve_app.engines.factory import create_engine
from serve_app.preprocessing.prepare import prepare_image

WARMUP_RUNS = 3


@dataclass(frozen=True)
class RawResult:
    sessions: int
    threads: int
    """Intra-op threads per session."""
    batch_size: int
    images_per_s: float
    seconds: float

    @property
    def label(self) -> str:
        return f"{self.sessions} session(s) x {self.threads} thread(s), batch {self.batch_size}"


def network_inputs(images_bgr: Iterable[np.ndarray], package: ModelPackage) -> list[np.ndarray]:
    """HxWx3 uint8 RGB at the network's input size, prepared as the server prepares them."""
    return [prepare_image(image, package.spec, PreprocessOptions())[0] for image in images_bgr]


def make_batches(pixels: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """[B, H, W, 3] batches that go round ``pixels``, every batch full."""
    count = max(1, -(-len(pixels) // batch_size))
    return [
        np.stack([pixels[(k * batch_size + j) % len(pixels)] for j in range(batch_size)])
        for k in range(count)
    ]


def _drive(engine: Engine, batches: Sequence[np.ndarray], deadline: float, done: list[int]) -> None:
    for batch in batches[:WARMUP_RUNS]:
        engine.infer(batch)
    images, runs = 0, 0
    while time.perf_counter() < deadline:
        engine.infer(batches[runs % len(batches)])
        runs += 1
        images += len(batches[0])
    done.append(images)


def measure(
    package: ModelPackage,
    pixels: Sequence[np.ndarray],
    sessions: int,
    threads: int,
    batch_size: int,
    duration_s: float,
) -> RawResult:
    """Images/s of ``sessions`` engines, each on its own thread, back to back."""
    options = EngineOptions(backend="onnxruntime", num_threads=threads)
    engines = [create_engine(options, package) for _ in range(sessions)]
    batches = make_batches(pixels, batch_size)
    for engine in engines:  # first runs allocate: keep them out of the timing
        engine.infer(batches[0])
    done: list[int] = []
    start = time.perf_counter()
    workers = [
        threading.Thread(target=_drive, args=(e, batches, start + duration_s, done))
        for e in engines
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - start
    return RawResult(sessions, threads, batch_size, sum(done) / seconds, seconds)


def layouts(cpus: int) -> list[tuple[int, int]]:
    """(sessions, threads per session) to try: one session with 1 and all threads, and
    one single-thread session per CPU."""
    return sorted({(1, 1), (1, cpus), (cpus, 1)})


def measure_saturated(
    package: ModelPackage,
    pixels: Sequence[np.ndarray],
    cpus: int,
    batch_sizes: Iterable[int],
    duration_s: float,
) -> list[RawResult]:
    return [
        measure(package, pixels, sessions, threads, batch, duration_s)
        for sessions, threads in layouts(cpus)
        for batch in sorted(set(batch_sizes))
    ]


def best(results: Sequence[RawResult]) -> RawResult | None:
    return max(results, key=lambda r: r.images_per_s, default=None)


def forward_cpu_ms_per_image(results: Sequence[RawResult]) -> float | None:
    """CPU milliseconds one image's forward pass costs at best: a single-thread session
    keeps one core busy, so its time per image is its CPU per image."""
    single = [r for r in results if r.sessions == 1 and r.threads == 1]
    fastest = best(single)
    return 1e3 / fastest.images_per_s if fastest else None
