"""Tables and plots of the size and models sweeps (``bench/size_sweep.py``,
``bench/models_sweep.py``), from their :class:`~bench.sweep.Measured` points."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.stages import StageTiming
from bench.sweep import COMPARE, Measured

GPU_NODE_CORES = 16
FORWARD_STAGE = "ORT forward, batch 1"
# In-process stages that a role's replica runs, to tell its own work from what Ray and
# HTTP add around it (matched by the start of the stage's name).
ROLE_STAGES: dict[str, tuple[str, ...]] = {
    "replica Ingress": ("request JSON parse", "JSON response build"),
    "replica Preprocessor": ("base64 decode", "JPEG decode", "resize and pad"),
    "replica ModelReplica": ("ORT forward, batch 1", "decode + NMS"),
    "replica FusedIngress": (
        "request JSON parse", "base64 decode", "JPEG decode", "resize and pad",
        "ORT forward, batch 1", "decode + NMS", "JSON response build",
    ),
}  # fmt: skip


def find(points: Sequence[Measured], server: str, case: str, clients: int) -> Measured | None:
    for p in points:
        if p.server == server and p.case == case and p.load.concurrency == clients:
            return p
    return None


def outside_forward(point: Measured, forward_ms: float | None) -> float | None:
    cpu = point.cpu_ms_per_image()
    return cpu - forward_ms if cpu is not None and forward_ms else None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else ""


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def points_table(points: Sequence[Measured], forward_ms: float | None) -> str:
    """Every point, with its ratios to the compared server's same point."""
    rows = [
        "| case | clients | server | images/s | p50 ms | p99 ms | errors | server CPU ms / image "
        "| of it outside the forward pass | / compare: images/s | p50 | CPU outside |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        other = find(points, COMPARE, p.case, p.load.concurrency)
        mine, theirs = outside_forward(p, forward_ms), None
        if other is not None and p.server != COMPARE:
            theirs = outside_forward(other, forward_ms)
        lat = p.load.latency_ms
        vs = ("", "", "")
        if other is not None and p.server != COMPARE:
            vs = (
                _ratio(p.load.images_per_s, other.load.images_per_s),
                _ratio(lat.get("p50"), other.load.latency_ms.get("p50")),
                _ratio(mine, theirs),
            )
        rows.append(
            f"| {p.case} | {p.load.concurrency} | {p.server} | {p.load.images_per_s:.1f} "
            f"| {_num(lat.get('p50'))} | {_num(lat.get('p99'))} "
            f"| {p.load.errors} of {p.load.requests} | {_num(p.cpu_ms_per_image())} "
            f"| {_num(mine)} | {' | '.join(vs)} |"
        )
    return "\n".join(rows)


def roles_table(points: Sequence[Measured], clients: int, top: int = 6) -> str:
    """CPU ms per image of each process role at ``clients``: where a server's CPU goes."""
    rows = ["| case | server | CPU ms / image by process (largest first) |", "|---|---|---|"]
    for p in points:
        if p.load.concurrency != clients or not p.images:
            continue
        parts = [f"{role} {1e3 * s / p.images:.2f}" for role, s in list(p.cpu_s.items())[:top]]
        rest = sum(list(p.cpu_s.values())[top:])
        if rest > 0:
            parts.append(f"others {1e3 * rest / p.images:.2f}")
        rows.append(f"| {p.case} | {p.server} | {', '.join(parts)} |")
    return "\n".join(rows)


def overhead_table(
    points: Sequence[Measured], profiles: Mapping[str, Sequence[StageTiming]], clients: int
) -> str:
    """Each replica's CPU per image less the in-process time of the stages it runs:
    what Ray (handles, gRPC, serialisation, the event loop) and HTTP add in that hop,
    plus contention for the cores."""
    rows = [
        "| case | server | replica | CPU ms / image | its stages in process | added by Ray, HTTP, "
        "contention |",
        "|---|---|---|---|---|---|",
    ]
    for p in points:
        if p.load.concurrency != clients or p.server == COMPARE or not p.images:
            continue
        stages = {s.name: s.cpu_p50_ms or 0.0 for s in profiles.get(p.case, []) if s.in_sum}
        for role, names in ROLE_STAGES.items():
            if role not in p.cpu_s:
                continue
            own = sum(ms for name, ms in stages.items() if name.startswith(names))
            spent = 1e3 * p.cpu_s[role] / p.images
            rows.append(
                f"| {p.case} | {p.server} | {role} | {spent:.2f} | {own:.2f} | {spent - own:.2f} |"
            )
        for role in ("haproxy", "ray ServeController", "raylet", "gcs_server"):
            if role in p.cpu_s:
                spent = 1e3 * p.cpu_s[role] / p.images
                rows.append(f"| {p.case} | {p.server} | {role} | {spent:.2f} | | {spent:.2f} |")
    return "\n".join(rows)


def latency_table(points: Sequence[Measured], profiles: Mapping[str, Sequence[StageTiming]]) -> str:
    """One client: the p50 less the stages' in-process time, what the path adds."""
    rows = [
        "| case | server | p50 ms | stages in process | added by the path (Ray, HTTP, hops) |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        if p.load.concurrency != 1 or "p50" not in p.load.latency_ms:
            continue
        stages = sum(s.p50_ms for s in profiles.get(p.case, []) if s.in_sum)
        p50 = p.load.latency_ms["p50"]
        rows.append(f"| {p.case} | {p.server} | {p50:.1f} | {stages:.1f} | {p50 - stages:.1f} |")
    return "\n".join(rows)


def profile_table(profiles: Mapping[str, Sequence[StageTiming]]) -> str:
    """Stages by size, in process (one request alone): median CPU and wall ms per image."""
    cases = list(profiles)
    if not cases:
        return ""
    names: list[str] = []
    for timings in profiles.values():
        names += [t.name for t in timings if t.name not in names]
    rows = [
        "| stage (in process, alone; median ms per image, CPU / wall) | "
        + " | ".join(cases)
        + " |",
        "|---|" + "---|" * len(cases),
    ]
    for name in names:
        cells = []
        for case in cases:
            t = next((t for t in profiles[case] if t.name == name), None)
            mark = "" if t is None or t.in_sum else " *"
            cells.append("" if t is None else f"{t.cpu_p50_ms or 0:.2f} / {t.p50_ms:.2f}{mark}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    cpu = [sum(t.cpu_p50_ms or 0 for t in profiles[c] if t.in_sum) for c in cases]
    wall = [sum(t.p50_ms for t in profiles[c] if t.in_sum) for c in cases]
    sums = [f"**{c:.2f} / {w:.2f}**" for c, w in zip(cpu, wall, strict=True)]
    rows.append("| **sum** | " + " | ".join(sums) + " |")
    notes = {t.name: t.note for timings in profiles.values() for t in timings if t.note}
    text = "\n".join(rows) + "\n\n\\* not in the sum."
    return text + "".join(f"\n- {name}: {note}" for name, note in notes.items())


def forward_cpu_ms(profiles: Mapping[str, Sequence[StageTiming]]) -> float | None:
    """CPU per image of the forward pass alone (one thread), from the stage profile."""
    found = [
        t.cpu_p50_ms
        for timings in profiles.values()
        for t in timings
        if t.name == FORWARD_STAGE and t.cpu_p50_ms
    ]
    return float(sorted(found)[len(found) // 2]) if found else None


def gpu_node_table(points: Sequence[Measured], forward_ms: float | None, clients: int) -> str:
    """Images per second a node's CPUs could feed a GPU: cores over the CPU each image
    costs outside the forward pass (decoding, resizing, HTTP, Ray), at ``clients``."""
    rows = [
        f"| case | server | CPU ms / image outside the forward pass | images/s "
        f"{GPU_NODE_CORES} cores could feed |",
        "|---|---|---|---|",
    ]
    for p in points:
        if p.load.concurrency != clients:
            continue
        outside = outside_forward(p, forward_ms)
        feed = f"{GPU_NODE_CORES * 1e3 / outside:.0f}" if outside and outside > 0 else ""
        rows.append(f"| {p.case} | {p.server} | {_num(outside)} | {feed} |")
    return "\n".join(rows)


def models_table(points: Sequence[Measured]) -> str:
    rows = [
        "| models | server | images/s | / 1 model | / compare | p50 ms | p99 ms | errors "
        "| loads | evictions | s loading | loads, evictions by replica | CPU ms / image |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        one = next((q for q in points if q.server == p.server and q.case == "1"), None)
        other = find(points, COMPARE, p.case, p.load.concurrency)
        by_replica = ", ".join(
            f"{replica} {p.per_replica.get('model loads', {}).get(replica, 0):.0f}/"
            f"{p.per_replica.get('model evictions', {}).get(replica, 0):.0f}"
            for replica in sorted(
                set(p.per_replica.get("model loads", {}))
                | set(p.per_replica.get("model evictions", {}))
            )
        )
        loads = p.counters.get("model loads")
        evictions = p.counters.get("model evictions")
        lat = p.load.latency_ms
        versus = None if p.server == COMPARE or other is None else other.load.images_per_s
        cells = [
            p.case, p.server, f"{p.load.images_per_s:.1f}",
            _ratio(p.load.images_per_s, one.load.images_per_s if one else None),
            _ratio(p.load.images_per_s, versus), _num(lat.get("p50")), _num(lat.get("p99")),
            f"{p.load.errors} of {p.load.requests}", _num(loads, 0), _num(evictions, 0),
            _num(p.counters.get("model load s"), 2), by_replica, _num(p.cpu_ms_per_image()),
        ]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_sizes(points: Sequence[Measured], cases: Sequence[str], title: str, path: Path) -> None:
    """Images/s at 8 clients and p50 at 1 client, by frame size, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in dict.fromkeys(p.server for p in points):
        busy = [find(points, server, c, 8) for c in cases]
        alone = [find(points, server, c, 1) for c in cases]
        throughput.plot(
            cases, [p.load.images_per_s if p else float("nan") for p in busy], marker="o",
            label=server,
        )  # fmt: skip
        latency.plot(
            cases,
            [p.load.latency_ms.get("p50", float("nan")) if p else float("nan") for p in alone],
            marker="o",
            label=server,
        )
    throughput.set(title="8 clients", ylabel="images / s", xlabel="frame")
    latency.set(title="1 client, p50", ylabel="ms", xlabel="frame")
    for axis in (throughput, latency):
        axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
    throughput.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_models(points: Sequence[Measured], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.2))
    for server in dict.fromkeys(p.server for p in points):
        mine = sorted((int(p.case), p.load.images_per_s) for p in points if p.server == server)
        axis.plot([m for m, _ in mine], [v for _, v in mine], marker="o", label=server)
    axis.set(xscale="log", xlabel="models in use", ylabel="images / s", title=title)
    axis.set_xscale("log", base=2)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def failures_note(failed: Mapping[str, str]) -> str:
    return "\n".join(f"- **{label} failed**: {message}" for label, message in failed.items())


def write_outputs(
    out: Path | None, record: Mapping[str, object], text: str, plot: Callable[[Path], None]
) -> None:
    """Print ``text``; with ``out``, write OUT.json, OUT.md and OUT.png (``plot``)."""
    print("\n" + text)
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    plot(out.with_suffix(".png"))
    print(f"\nwrote {out}.json, .md and .png")
