"""The benchmark's result: one JSON-ready record, its targets, and its printed tables."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.reference import RawResult, best, forward_cpu_ms_per_image
from bench.stages import StageTiming

BUSY_LOAD_PER_CPU = 0.25
COMPARE = "compare"
"""Server label of the ``--compare-url`` server."""


@dataclass(frozen=True)
class Point:
    """One load level against one server."""

    server: str
    """``split``, ``fused`` or :data:`COMPARE`."""
    load: LoadResult
    hops: dict[str, float] | None = None
    """Mean images per call into preprocessing, into the model replica, and per forward
    pass, over this point (warm-up included); ours only."""

    @property
    def kind(self) -> tuple[int, int]:
        return self.load.images_per_request, self.load.concurrency


@dataclass
class SweepResult:
    model_id: str
    input_size: tuple[int, int] | None
    machine: dict[str, Any]
    images: dict[str, Any]
    environment: dict[str, str]
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: list[RawResult] = field(default_factory=list)
    profile: list[StageTiming] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    compare_url: str | None = None
    notes: list[str] = field(default_factory=list)

    def point(self, server: str, images_per_request: int, concurrency: int) -> Point | None:
        for p in self.points:
            if p.server == server and p.kind == (images_per_request, concurrency):
                return p
        return None

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        top = best(self.raw)
        record["raw_best"] = asdict(top) if top else None
        record["forward_cpu_ms_per_image"] = forward_cpu_ms_per_image(self.raw)
        record["targets"] = [asdict(t) for t in targets(self)]
        return record


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None
    goal: float
    higher_is_better: bool = True
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal


def targets(result: SweepResult) -> list[Target]:
    """The throughput issue's targets, from this run's figures (None: not measured)."""
    raw = best(result.raw)
    forward_ms = forward_cpu_ms_per_image(result.raw)

    def ips(server: str, per_request: int, clients: int) -> float | None:
        p = result.point(server, per_request, clients)
        return p.load.images_per_s if p and not p.load.errors else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def p50_gap(server: str) -> float | None:
        ours, theirs = result.point(server, 1, 1), result.point(COMPARE, 1, 1)
        if not ours or not theirs or not ours.load.latency_ms or not theirs.load.latency_ms:
            return None
        return ours.load.latency_ms["p50"] - theirs.load.latency_ms["p50"]

    def cpu_outside(server: str) -> float | None:
        p = result.point(server, 1, 8)
        per_image = p.load.server_cpu_ms_per_image if p else None
        return per_image - forward_ms if per_image is not None and forward_ms else None

    raw_ips = raw.images_per_s if raw else None
    listed = []
    for server in ("split", "fused"):
        listed.append(
            Target(
                f"{server}, 8-image lists, 8 clients / raw", ratio(ips(server, 8, 8), raw_ips), 0.75
            )
        )
    return [
        Target("split, 8 clients / compare", ratio(ips("split", 1, 8), ips(COMPARE, 1, 8)), 1.5),
        Target("split, 8 clients / raw", ratio(ips("split", 1, 8), raw_ips), 0.55),
        Target("fused, 8 clients / compare", ratio(ips("fused", 1, 8), ips(COMPARE, 1, 8)), 1.8),
        Target("fused, 8 clients / raw", ratio(ips("fused", 1, 8), raw_ips), 0.65),
        *listed,
        Target("split, 1 client p50 - compare", p50_gap("split"), 6.0, False, "ms"),
        Target("fused, 1 client p50 - compare", p50_gap("fused"), 2.0, False, "ms"),
        Target(
            "split, CPU per image outside the forward pass", cpu_outside("split"), 6.0, False, "ms"
        ),
        Target(
            "fused, CPU per image outside the forward pass", cpu_outside("fused"), 6.0, False, "ms"
        ),
    ]


def machine_info() -> dict[str, Any]:
    import onnxruntime

    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg()[0],
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "onnxruntime": onnxruntime.__version__,
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


def save_record(record: Any, out: Path | None, echo: bool = True) -> None:
    """A dataclass result as JSON: printed (``echo``), and written to ``out``.json."""
    text = json.dumps(asdict(record), indent=2) + "\n"
    if echo:
        print(text, end="")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(text)


def write_json(result: SweepResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")


def markdown(result: SweepResult) -> str:
    """The sweep, the raw reference, the targets and the stage profile as markdown."""
    return "\n\n".join(
        part
        for part in (
            _heading(result),
            _sweep_table(result),
            _raw_table(result.raw),
            _targets_table(targets(result)),
            _profile_table(result.profile),
            "\n".join(f"- note: {note}" for note in result.notes),
        )
        if part
    )


def _heading(result: SweepResult) -> str:
    size = "x".join(map(str, result.input_size)) if result.input_size else "unknown"
    images = result.images
    return (
        f"Model `{result.model_id}` (input {size}); {images['count']} {images['source']}, "
        f"JPEG q{images['jpeg_quality']}, mean {images['mean_jpeg_kb']:.1f} KiB; "
        f"{result.machine['cpus_usable']} CPUs ({result.machine['cpu_model']}), load average "
        f"{result.machine['load_average_at_start']:.2f} at start."
        + (f" Compared with {result.compare_url}." if result.compare_url else "")
    )


def _sweep_table(result: SweepResult) -> str:
    raw = best(result.raw)
    rows = [
        "| server | images / request | clients | images/s | / raw | / compare | p50 ms | p99 ms "
        "| errors | server CPU ms / image | images per call: into preprocessing, into model, "
        "per forward pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result.points:
        load = p.load
        other = result.point(COMPARE, *p.kind)
        vs_raw = f"{load.images_per_s / raw.images_per_s:.2f}" if raw else ""
        vs_other = (
            f"{load.images_per_s / other.load.images_per_s:.2f}"
            if other and p.server != COMPARE and other.load.images_per_s
            else ""
        )
        lat = load.latency_ms
        cpu = load.server_cpu_ms_per_image
        hops = (
            ", ".join(f"{p.hops[k]:.1f}" for k in ("preprocessing", "model", "forward"))
            if p.hops
            else ""
        )
        rows.append(
            f"| {p.server} | {load.images_per_request} | {load.concurrency} "
            f"| {load.images_per_s:.1f} | {vs_raw} | {vs_other} "
            f"| {lat.get('p50', float('nan')):.1f} | {lat.get('p99', float('nan')):.1f} "
            f"| {load.errors} of {load.requests} | {'' if cpu is None else f'{cpu:.1f}'} | {hops} |"
        )
    return "\n".join(rows)


def _raw_table(raw: Sequence[RawResult]) -> str:
    if not raw:
        return ""
    top = best(raw)
    rows = ["| raw engine layout | images/s |", "|---|---|"]
    rows += [f"| {r.label}{' (best)' if r is top else ''} | {r.images_per_s:.1f} |" for r in raw]
    forward = forward_cpu_ms_per_image(raw)
    if forward:
        rows.append(f"| forward pass CPU per image (1 thread) | {forward:.2f} ms |")
    return "\n".join(rows)


def _targets_table(items: Sequence[Target]) -> str:
    rows = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for t in items:
        sign = ">=" if t.higher_is_better else "<="
        measured = "not measured" if t.measured is None else f"{t.measured:.2f} {t.unit}"
        verdict = {True: "yes", False: "**no**", None: ""}[t.met]
        rows.append(f"| {t.name} | {measured} | {sign} {t.goal:g} {t.unit} | {verdict} |")
    return "\n".join(rows)


def _profile_table(profile: Sequence[StageTiming]) -> str:
    if not profile:
        return ""
    rows = [
        "| stage (in process, outside Serve) | mean ms / image | p50 | note |",
        "|---|---|---|---|",
    ]
    rows += [f"| {s.name} | {s.mean_ms:.2f} | {s.p50_ms:.2f} | {s.note} |" for s in profile]
    total = sum(s.mean_ms for s in profile if s.in_sum)
    rows.append(f"| **sum, batch 1** | **{total:.2f}** | | |")
    return "\n".join(rows)
