"""Closed-loop HTTP load: N clients, each sending one request after the other."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import numpy as np

from bench.cpu import CpuMeter

ROUTE = "/infer/object_detection"
LOOPBACK_HOSTS = frozenset({"localhost", "::1"})
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class LoadSpec:
    base_url: str
    concurrency: int = 8
    warmup_s: float = 3.0
    duration_s: float = 15.0
    timeout_s: float = 30.0
    """Per request; also how long in-flight requests may run past the end."""
    max_requests: int = 200_000
    images_per_request: int = 1


@dataclass(frozen=True)
class Sample:
    start: float
    end: float
    error: str | None
    """None for HTTP 200, else the status or exception name."""


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    images_per_request: int
    window_s: float
    """Measured window: after warm-up, until the clients stopped."""
    requests: int
    """Requests started in the window."""
    completed_in_window: int
    """Successful responses that arrived in the window: the throughput numerator."""
    images_per_s: float
    latency_ms: dict[str, float]
    """Per request, client-side."""
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    """CPU time of this process over the window: the load generator's own cost."""
    server_cpu_s: float = 0.0
    """CPU time of every other process over the window: the server's."""

    @property
    def server_cpu_ms_per_image(self) -> float | None:
        images = self.completed_in_window * self.images_per_request
        return 1e3 * self.server_cpu_s / images if images else None


class WindowMeter(Protocol):
    """Started when the measured window opens and stopped when it closes."""

    def start(self) -> None: ...

    def stop(self) -> object: ...


def check_loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise ValueError(f"refusing to load {host!r}: the benchmark only targets loopback")


async def probe(base_url: str, body: bytes, timeout_s: float) -> object:
    """One request before timing: loads the model and fails fast on a broken setup."""
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, trust_env=False) as c:
        response = await c.post(ROUTE, content=body, headers=JSON_HEADERS)
    if response.status_code != 200:
        raise RuntimeError(f"probe request failed: HTTP {response.status_code}: {response.text}")
    return response.json()


async def run_load(
    spec: LoadSpec, bodies: Sequence[bytes], meters: Sequence[WindowMeter] = ()
) -> LoadResult:
    """``meters`` run over the measured window, beside the machine's CPU meter."""
    check_loopback(spec.base_url)
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    budget = _Budget(spec.max_requests)
    samples: list[Sample] = []
    meter = CpuMeter()
    async with httpx.AsyncClient(
        base_url=spec.base_url, limits=limits, timeout=spec.timeout_s, trust_env=False
    ) as client:
        begin = time.perf_counter()
        window_start = begin + spec.warmup_s
        stop_at = window_start + spec.duration_s
        metering = asyncio.create_task(_meter_window(meter, window_start, stop_at, meters))
        workers = [
            _client_loop(client, bodies, i, spec.concurrency, stop_at, budget, samples)
            for i in range(spec.concurrency)
        ]
        await asyncio.gather(*workers)
        server_cpu_s, client_cpu_s = await metering
    return summarise(samples, spec, window_start, stop_at, client_cpu_s, server_cpu_s)


class _Budget:
    """Caps the number of requests across all clients."""

    def __init__(self, remaining: int) -> None:
        self._remaining = remaining

    def take(self) -> bool:
        self._remaining -= 1
        return self._remaining >= 0


async def _meter_window(
    meter: CpuMeter, start: float, stop: float, others: Sequence[WindowMeter]
) -> tuple[float, float]:
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    meter.start()
    for other in others:
        other.start()
    await asyncio.sleep(max(0.0, stop - time.perf_counter()))
    for other in others:
        other.stop()
    return meter.stop()


async def _client_loop(
    client: httpx.AsyncClient,
    bodies: Sequence[bytes],
    first: int,
    stride: int,
    stop_at: float,
    budget: _Budget,
    samples: list[Sample],
) -> None:
    index = first
    while time.perf_counter() < stop_at and budget.take():
        body = bodies[index % len(bodies)]
        index += stride
        start = time.perf_counter()
        error: str | None
        try:
            response = await client.post(ROUTE, content=body, headers=JSON_HEADERS)
            error = None if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        samples.append(Sample(start, time.perf_counter(), error))


def summarise(
    samples: Sequence[Sample],
    spec: LoadSpec,
    window_start: float,
    stop_at: float,
    client_cpu_s: float = 0.0,
    server_cpu_s: float = 0.0,
) -> LoadResult:
    """Throughput counts completions inside the window; latency and errors count the
    requests started inside it (warm-up requests are left out of both)."""
    ends = [s.end for s in samples]
    # Clients stop early when the request budget runs out: the window ends there.
    window_end = min(stop_at, max(ends, default=stop_at))
    window_s = max(window_end - window_start, 1e-9)
    measured = [s for s in samples if s.start >= window_start]
    completed = sum(1 for s in samples if s.error is None and window_start <= s.end <= window_end)
    latencies = np.array([(s.end - s.start) * 1e3 for s in measured if s.error is None])
    errors = Counter(s.error for s in measured if s.error is not None)
    return LoadResult(
        concurrency=spec.concurrency,
        images_per_request=spec.images_per_request,
        window_s=window_s,
        requests=len(measured),
        completed_in_window=completed,
        images_per_s=completed * spec.images_per_request / window_s,
        latency_ms=_latency_summary(latencies),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        client_cpu_s=client_cpu_s,
        server_cpu_s=server_cpu_s,
    )


def _latency_summary(latencies_ms: np.ndarray) -> dict[str, float]:
    if latencies_ms.size == 0:
        return {}
    p50, p90, p99 = np.percentile(latencies_ms, [50, 90, 99])
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "mean": float(latencies_ms.mean()),
        "max": float(latencies_ms.max()),
    }
