"""The benchmark's result: one JSON-ready record and its printed summary."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.reference import RawResult
from bench.stages import StageTiming

BUSY_LOAD_PER_CPU = 0.25


@dataclass
class BenchResult:
    mode: str
    """"in-process" (this run started the server) or "external" (``--url``)."""
    model_id: str
    input_size: tuple[int, int] | None
    """Network input width, height; None when the weights are not on this machine."""
    config: dict[str, Any]
    images: dict[str, Any]
    machine: dict[str, Any]
    served: LoadResult | None = None
    replica_batches: dict[str, Any] | None = None
    raw: list[RawResult] = field(default_factory=list)
    profile: list[StageTiming] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def raw_best(self) -> RawResult | None:
        return max(self.raw, key=lambda r: r.images_per_s, default=None)

    @property
    def served_over_raw(self) -> float | None:
        best = self.raw_best
        if self.served is None or best is None or best.images_per_s <= 0:
            return None
        return self.served.images_per_s / best.images_per_s

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        best = self.raw_best
        record["raw_best"] = asdict(best) if best is not None else None
        record["served_over_raw"] = self.served_over_raw
        return record


def machine_info() -> dict[str, Any]:
    import onnxruntime
    import ray

    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg()[0],
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "onnxruntime": onnxruntime.__version__,
        "ray": ray.__version__,
    }


def busy_machine_note(machine: dict[str, Any]) -> str | None:
    """A warning when the machine was not quiet: other work skews every figure."""
    load, cpus = machine["load_average_at_start"], machine["cpus_usable"]
    if load <= BUSY_LOAD_PER_CPU * cpus:
        return None
    return (
        f"the machine was busy at start (load average {load:.2f} on {cpus} CPUs): "
        "figures are noisy; measure on a quiet machine"
    )


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def write_json(result: BenchResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")


def format_summary(result: BenchResult) -> str:
    lines = [_heading(result), ""]
    if result.served is not None:
        lines += _served_lines(result.served, result.replica_batches)
    lines += _raw_lines(result)
    ratio = result.served_over_raw
    if ratio is not None:
        lines += ["", f"served / raw best           {ratio:8.2f}"]
    if result.profile:
        lines += ["", *_profile_lines(result.profile)]
    lines += ["", *(f"note: {note}" for note in result.notes)]
    return "\n".join(lines)


def _heading(result: BenchResult) -> str:
    batching = result.config.get("batching", {})
    engine = result.config.get("engine", {})
    size = "x".join(map(str, result.input_size)) if result.input_size else "unknown"
    threads = engine.get("num_threads")
    return (
        f"model {result.model_id} (input {size}), {result.mode} server, "
        f"max batch {batching.get('max_batch_size')}, "
        f"batch wait {1e3 * float(batching.get('batch_wait_timeout_s', 0)):.1f} ms, "
        f"ORT intra-op threads {threads}{' (runtime default)' if threads == 0 else ''}\n"
        f"images: {result.images['count']} x {result.images['source']}, "
        f"JPEG q{result.images['jpeg_quality']}, mean {result.images['mean_jpeg_kb']:.1f} KiB; "
        f"machine: {result.machine['cpus_usable']} CPUs, "
        f"load average {result.machine['load_average_at_start']:.2f} at start"
    )


def _served_lines(served: LoadResult, batches: dict[str, Any] | None) -> list[str]:
    lat = served.latency_ms
    lines = [
        f"served over HTTP ({served.concurrency} clients, {served.window_s:.1f} s window)",
        f"  images/s                  {served.images_per_s:8.1f}",
    ]
    if lat:
        lines.append(
            f"  latency ms p50/p90/p99    {lat['p50']:8.1f} {lat['p90']:8.1f} {lat['p99']:8.1f}"
        )
    lines.append(f"  errors                    {served.errors:8d} of {served.requests} requests")
    if served.error_kinds:
        lines.append(f"  error kinds               {served.error_kinds}")
    cpu_share = served.client_cpu_s / served.window_s
    lines.append(f"  load generator CPU        {cpu_share:8.2f} cores")
    if batches:
        lines.append(
            f"  model replica batches     {batches['mean_batch_size']:8.2f} images per batch "
            f"(sizes {batches['batch_size_counts']})"
        )
    return lines


def _raw_lines(result: BenchResult) -> list[str]:
    if not result.raw:
        return []
    when = "before the server started" if result.mode == "in-process" else "server not started here"
    lines = [f"raw engine, in this process, same thread budget, {when}"]
    for raw in result.raw:
        lines.append(f"  batch {raw.batch_size:<3d} images/s        {raw.images_per_s:8.1f}")
    best = result.raw_best
    if best is not None:
        lines.append(
            f"  best                      {best.images_per_s:8.1f} (batch {best.batch_size})"
        )
    return lines


def _profile_lines(profile: list[StageTiming]) -> list[str]:
    lines = [
        "per-image stage costs, in process, outside Serve (ms)",
        f"  {'stage':<36}{'mean':>8}{'p50':>8}",
    ]
    for stage in profile:
        note = f"  {stage.note}" if stage.note else ""
        lines.append(f"  {stage.name:<36}{stage.mean_ms:8.2f}{stage.p50_ms:8.2f}{note}")
    total = sum(s.mean_ms for s in profile if s.in_sum)
    lines.append(f"  {'sum, batch 1':<36}{total:8.2f}")
    return lines
