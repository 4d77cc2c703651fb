"""Overload: offer several times what the server can do, and see what clients get.

    python -m bench.overload --factor 4 --out bench/results/overload

Starts the server on the fast path in this process (``configs/edge.yaml`` unless
``--config``), measures its saturated throughput with closed-loop clients, then sends
requests open-loop (at a fixed rate, whatever the answers) at ``--factor`` times that
for ``--duration`` seconds. Reported: every status seen, the latency of the accepted
requests, how fast the rejected ones were refused, and how long after the load stops
the server answers again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.load import ROUTE, LoadSpec, run_load
from bench.payloads import build_images, detection_bodies
from bench.server import Overrides, build_config, prepare_environment, read_app_args

MODEL = "shapes-detection/1"


@dataclass
class OverloadResult:
    config: str
    saturated_images_per_s: float = 0.0
    offered_per_s: float = 0.0
    sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    accepted_ms: dict[str, float] = field(default_factory=dict)
    rejected_ms: dict[str, float] = field(default_factory=dict)
    retry_after: list[str] = field(default_factory=list)
    recovered_after_s: float | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overload", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", type=Path, default=Path("configs/edge.yaml"))
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    p50, p99, top = np.percentile(values_ms, [50, 99, 100])
    return {"p50": float(p50), "p99": float(p99), "max": float(top)}


async def open_loop(url: str, bodies: list[bytes], rate: float, args: argparse.Namespace) -> dict:
    outcomes: list[tuple[str, float, str]] = []
    limits = httpx.Limits(max_connections=4096, max_keepalive_connections=256)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(
        base_url=url, timeout=args.timeout, limits=limits, trust_env=False
    ) as http:

        async def one(body: bytes) -> None:
            start = time.perf_counter()
            try:
                response = await http.post(ROUTE, content=body, headers=headers)
                status = str(response.status_code)
                retry = response.headers.get("retry-after", "")
            except httpx.HTTPError as exc:
                status, retry = type(exc).__name__, ""
            outcomes.append((status, (time.perf_counter() - start) * 1e3, retry))

        tasks, begin = [], time.perf_counter()
        count = int(rate * args.duration)
        for i in range(count):
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)])))
        offered = count / (time.perf_counter() - begin)
        await asyncio.gather(*tasks)
        stopped = time.perf_counter()
        while True:  # answered again: the first 200 once the load has stopped
            response = await http.post(ROUTE, content=bodies[0], headers=headers)
            if response.status_code == 200:
                break
            await asyncio.sleep(0.1)
        recovered = time.perf_counter() - stopped
    return {"outcomes": outcomes, "offered": offered, "recovered": recovered}


def main(argv: Sequence[str] | None = None) -> OverloadResult:
    args = parse_args(argv)
    prepare_environment(fast_path=True, extra={})
    from bench.server import deployed, local_serve

    result = OverloadResult(str(args.config))
    images = build_images(32, 90)
    bodies = detection_bodies(MODEL, images.jpeg_b64, 1)
    with tempfile.TemporaryDirectory(prefix="overload-") as workdir:
        config = build_config(read_app_args(args.config), Overrides(MODEL, Path(workdir) / "c"))
        with local_serve(ray_cpus=8) as port, deployed(config, port) as url:
            saturated = asyncio.run(run_load(LoadSpec(url, 16, 3, 10), bodies))
            result.saturated_images_per_s = saturated.images_per_s
            rate = args.factor * saturated.images_per_s
            print(f"saturated at {saturated.images_per_s:.0f} img/s; offering {rate:.0f} req/s")
            run = asyncio.run(open_loop(url, bodies, rate, args))
    outcomes = run["outcomes"]
    result.offered_per_s, result.sent = run["offered"], len(outcomes)
    result.statuses = dict(Counter(status for status, _, _ in outcomes))
    result.accepted_ms = percentiles([ms for s, ms, _ in outcomes if s == "200"])
    result.rejected_ms = percentiles([ms for s, ms, _ in outcomes if s == "503"])
    result.retry_after = sorted({retry for s, _, retry in outcomes if s == "503"})
    result.recovered_after_s = run["recovered"]
    print(json.dumps(asdict(result), indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
