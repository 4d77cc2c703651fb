"""Soak: hours of steady load in minutes, checked for errors and memory growth.

    python -m bench.soak --minutes 30 --out bench/results/soak

Starts the server on the fast path in this process (``configs/local.yaml``, fused, unless
``--config``), then N closed-loop clients send requests across several models and
tasks (the bundled detector, segmenter and classifier) for the whole run, while the
resident memory of every server process is sampled once a minute. The verdict: zero
failed requests, and total memory after the warm-up within ``--tolerance`` of its
level at the end of the warm-up. Writes OUT.json and OUT.png (memory over time).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import JSON_HEADERS
from bench.payloads import build_images, detection_bodies
from bench.processes import mib_by_name, server_memory
from bench.report import save_record
from bench.server import Overrides, build_config, prepare_environment, read_app_args

WORKLOAD = (
    ("/infer/object_detection", "shapes-detection/1"),
    ("/infer/instance_segmentation", "shapes-segmentation/1"),
    ("/infer/classification", "shapes-classification/1"),
)


@dataclass
class Sample:
    minute: float
    requests: int
    errors: int
    rss_mib: float
    pss_mib: float
    processes: int
    by_process_mib: dict[str, float] = field(default_factory=dict)


@dataclass
class SoakResult:
    minutes: float
    clients: int
    config: str
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    warmup_minutes: float = 5.0
    growth_after_warmup: float | None = None
    """End-of-run total RSS over the total at the end of the warm-up, minus one."""

    @property
    def passed(self) -> bool:
        return not self.errors and self.growth_after_warmup is not None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--config", type=Path, default=Path("configs/local.yaml"))
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--sample-s", type=float, default=60.0)
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def bodies() -> list[tuple[str, bytes]]:
    images = build_images(16, 90)
    return [
        (route, body)
        for route, model in WORKLOAD
        for body in detection_bodies(model, images.jpeg_b64, 1)
    ]


async def soak(url: str, args: argparse.Namespace, result: SoakResult) -> None:
    work = bodies()
    errors: Counter[str] = Counter()
    done = [0]
    stop_at = time.monotonic() + args.minutes * 60

    async def client(index: int, http: httpx.AsyncClient) -> None:
        position = index
        while time.monotonic() < stop_at:
            route, body = work[position % len(work)]
            position += args.clients
            try:
                response = await http.post(route, content=body, headers=JSON_HEADERS)
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
            done[0] += 1

    async def sampler() -> None:
        start = time.monotonic()
        while time.monotonic() < stop_at:
            memory = server_memory()
            result.samples.append(
                Sample(
                    minute=(time.monotonic() - start) / 60,
                    requests=done[0],
                    errors=sum(errors.values()),
                    rss_mib=sum(p.rss_bytes for p in memory) / 2**20,
                    pss_mib=sum(p.pss_bytes for p in memory) / 2**20,
                    processes=len(memory),
                    by_process_mib=mib_by_name(memory, pss=False),
                )
            )
            last = result.samples[-1]
            print(
                f"  minute {last.minute:5.1f}: {last.requests} requests, {last.errors} errors, "
                f"RSS {last.rss_mib:.0f} MiB, PSS {last.pss_mib:.0f} MiB "
                f"in {last.processes} processes",
                flush=True,
            )
            await asyncio.sleep(min(args.sample_s, max(0.0, stop_at - time.monotonic())))

    limits = httpx.Limits(max_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False) as http:
        await asyncio.gather(sampler(), *(client(i, http) for i in range(args.clients)))
    result.requests, result.errors = done[0], dict(errors)


def verdict(result: SoakResult) -> None:
    settled = [s for s in result.samples if s.minute >= result.warmup_minutes]
    if len(settled) >= 2:
        result.growth_after_warmup = settled[-1].rss_mib / settled[0].rss_mib - 1


def plot(result: SoakResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    minutes = [s.minute for s in result.samples]
    axis.plot(
        minutes, [s.rss_mib for s in result.samples], marker="o", label="RSS, all server processes"
    )
    axis.plot(
        minutes, [s.pss_mib for s in result.samples], marker="o", label="PSS, all server processes"
    )
    axis.axvline(result.warmup_minutes, color="grey", linestyle=":", label="end of warm-up")
    axis.set_xlabel("minutes")
    axis.set_ylabel("MiB")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.legend()
    axis.set_title(
        f"soak: {result.clients} clients, {result.requests} requests, "
        f"{sum(result.errors.values())} errors ({result.config})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> SoakResult:
    args = parse_args(argv)
    prepare_environment(fast_path=True, extra={})
    result = SoakResult(
        args.minutes, args.clients, str(args.config), warmup_minutes=args.warmup_minutes
    )
    from bench.server import deployed, local_serve

    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        overrides = Overrides(WORKLOAD[0][1], Path(workdir) / "cache")
        config = build_config(read_app_args(args.config), overrides)
        with local_serve(ray_cpus=8) as port, deployed(config, port) as url:
            print(f"soaking {url} for {args.minutes:g} minutes with {args.clients} clients ...")
            asyncio.run(soak(url, args, result))
    verdict(result)
    growth = result.growth_after_warmup
    print(
        f"\n{result.requests} requests, errors {result.errors or 'none'}, memory after warm-up "
        f"{'n/a' if growth is None else f'{growth:+.1%}'} (tolerance ±{args.tolerance:.0%}): "
        f"{'PASS' if result.passed and abs(growth or 0) <= args.tolerance else 'FAIL'}"
    )
    save_record(result, args.out, echo=False)
    if args.out:
        plot(result, args.out.with_suffix(".png"))
    return result


if __name__ == "__main__":
    main()
