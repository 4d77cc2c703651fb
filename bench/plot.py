"""Throughput and p99 latency against concurrency, one line per server and request kind."""

from __future__ import annotations

from pathlib import Path

from bench.report import SweepResult


def plot_sweep(result: SweepResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[tuple[str, int], list[tuple[int, float, float]]] = {}
    for p in result.points:
        p99 = p.load.latency_ms.get("p99", float("nan"))
        key = (p.server, p.load.images_per_request)
        series.setdefault(key, []).append((p.load.concurrency, p.load.images_per_s, p99))
    for (server, per_request), values in sorted(series.items()):
        values.sort()
        label = f"{server}, {per_request} image{'s' if per_request > 1 else ''} / request"
        style = "--" if per_request > 1 else "-"
        clients = [v[0] for v in values]
        throughput.plot(clients, [v[1] for v in values], style, marker="o", label=label)
        latency.plot(clients, [v[2] for v in values], style, marker="o", label=label)
    for axis, title, unit in (
        (throughput, "throughput", "images / s"),
        (latency, "p99 latency per request", "ms"),
    ):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    latency.set_yscale("log")
    throughput.legend(fontsize=8)
    size = "x".join(map(str, result.input_size)) if result.input_size else ""
    figure.suptitle(f"{result.model_id} {size} on {result.machine['cpus_usable']} CPUs")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
