"""The server's Prometheus metrics, recorded through Ray Serve's metrics API.

Every replica records into its own process; Ray exports them all from each node's
metrics endpoint (``ray start --metrics-export-port``, ``rfserve start
--metrics-export-port``), with the deployment, replica and application as tags, and
each name prefixed ``ray_`` by the exporter. README.md lists them.

Metric objects are created on first use, inside the replica that records them: a Ray
metric made at import time would belong to whichever process imported the module.
Where Ray is not installed (``bench/gpu_check.py`` on a bare GPU machine) they record
nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol


class Counter(Protocol):
    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None: ...


class Histogram(Protocol):
    def observe(self, value: float, tags: dict[str, str] | None = None) -> None: ...


class _Unrecorded:
    """A metric where there is no Ray to export it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        pass

    def observe(self, value: float, tags: dict[str, str] | None = None) -> None:
        pass


LATENCY_BOUNDARIES_S = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]
SIZE_BOUNDARIES = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
LOAD_BOUNDARIES_S = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]


@dataclass(frozen=True)
class ServerMetrics:
    requests: Counter
    request_seconds: Histogram
    stage_seconds: Histogram
    group_images: Histogram
    group_wait_seconds: Histogram
    model_loads: Counter
    model_load_seconds: Histogram
    model_evictions: Counter


@functools.cache
def server_metrics() -> ServerMetrics:
    """This process's metric objects (made once, on first use)."""
    counter: Any
    histogram: Any
    try:
        from ray.serve.metrics import Counter as counter
        from ray.serve.metrics import Histogram as histogram
    except ImportError:
        counter = histogram = _Unrecorded
    return ServerMetrics(
        requests=counter(
            "rfserve_requests_total",
            description="HTTP requests answered, by route, model and status code.",
            tag_keys=("route", "model", "status"),
        ),
        request_seconds=histogram(
            "rfserve_request_seconds",
            description="Server-side seconds from receiving a request to its answer.",
            boundaries=LATENCY_BOUNDARIES_S,
            tag_keys=("route",),
        ),
        stage_seconds=histogram(
            "rfserve_stage_seconds",
            description="Seconds spent in one stage of the request path: 'preprocess' "
            "(decode and resize a group), 'forward' (one forward pass), 'postprocess' "
            "(decode a forward pass's outputs).",
            boundaries=LATENCY_BOUNDARIES_S,
            tag_keys=("stage",),
        ),
        group_images=histogram(
            "rfserve_group_images",
            description="Images per call across a hop: 'preprocessing' (groups leaving "
            "the ingress), 'model' (calls into the model stage), 'batch' (batches the "
            "model stage gathers), 'forward' (per pass).",
            boundaries=SIZE_BOUNDARIES,
            tag_keys=("hop",),
        ),
        group_wait_seconds=histogram(
            "rfserve_group_wait_seconds",
            description="Seconds an item queued for a free call slot before its group left.",
            boundaries=LATENCY_BOUNDARIES_S,
            tag_keys=("hop",),
        ),
        model_loads=counter(
            "rfserve_model_loads_total",
            description="Models loaded by a model replica, by model and result.",
            tag_keys=("model", "result"),
        ),
        model_load_seconds=histogram(
            "rfserve_model_load_seconds",
            description="Seconds to fetch (when not cached) and load a model.",
            boundaries=LOAD_BOUNDARIES_S,
            tag_keys=("model",),
        ),
        model_evictions=counter(
            "rfserve_model_evictions_total",
            description="Models a model replica unloaded to make room (least recently used).",
        ),
    )
