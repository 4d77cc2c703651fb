"""Overload: many times more clients than saturate the server, and what they get.

    python -m bench.overload --factor 4 --out bench/results/overload

Starts the server on the fast path in this process (``configs/local.yaml``, fused, unless
``--config``), finds the concurrency that saturates it (the fewest closed-loop clients
that get within 5 % of the most images/s), then loads it with ``--factor`` times as
many connections through ``wrk`` (C, so the load generator costs the 2 cores little)
while four probe clients here time every answer. Reported: every status seen, the
latency of the accepted requests and of the refusals, ``Retry-After``, and how long
after the load stops the server answers again. Needs ``wrk`` (Debian: ``apt-get
install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.load import JSON_HEADERS, ROUTE, LoadSpec, run_load
from bench.payloads import build_images, detection_bodies
from bench.report import save_record
from bench.server import Overrides, build_config, prepare_environment, read_app_args

MODEL = "shapes-detection/1"
SCRIPT = Path(__file__).with_name("overload.lua")
RECOVERY_BOUND_S = 120.0
"""How long after the load stops the server must answer again, or the run fails."""
PROBES = 4
CONCURRENCY_STEPS = (1, 2, 4, 8, 16, 32)


@dataclass
class OverloadResult:
    config: str
    saturation_clients: int = 0
    saturated_images_per_s: float = 0.0
    connections: int = 0
    offered_requests_per_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    """Every answer wrk saw."""
    probe_accepted_ms: dict[str, float] = field(default_factory=dict)
    probe_rejected_ms: dict[str, float] = field(default_factory=dict)
    probe_statuses: dict[str, int] = field(default_factory=dict)
    retry_after: list[str] = field(default_factory=list)
    recovered_after_s: float | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overload", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", type=Path, default=Path("configs/local.yaml"))
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--duration", type=int, default=20, help="seconds of overload")
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    p50, p99, top = np.percentile(values_ms, [50, 99, 100])
    return {"p50": float(p50), "p99": float(p99), "max": float(top), "count": len(values_ms)}


def saturation(url: str, bodies: list[bytes]) -> tuple[int, float]:
    """The fewest clients within 5 % of the best images/s, and that best."""
    measured = {
        clients: asyncio.run(run_load(LoadSpec(url, clients, 2, 6), bodies)).images_per_s
        for clients in CONCURRENCY_STEPS
    }
    top = max(measured.values())
    return min(c for c, ips in measured.items() if ips >= 0.95 * top), top


async def probe_while(
    url: str, body: bytes, running: asyncio.Event
) -> list[tuple[int, float, str]]:
    answers: list[tuple[int, float, str]] = []
    async with httpx.AsyncClient(base_url=url, timeout=120, trust_env=False) as http:

        async def probe() -> None:
            while running.is_set():
                start = time.perf_counter()
                r = await http.post(ROUTE, content=body, headers=JSON_HEADERS)
                elapsed = (time.perf_counter() - start) * 1e3
                answers.append((r.status_code, elapsed, r.headers.get("retry-after", "")))

        await asyncio.gather(*(probe() for _ in range(PROBES)))
    return answers


async def overload(
    url: str, body_file: Path, body: bytes, connections: int, seconds: int
) -> tuple[str, list[tuple[int, float, str]], float]:
    running = asyncio.Event()
    running.set()
    wrk = await asyncio.create_subprocess_exec(
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
        "-s", str(SCRIPT), f"{url}{ROUTE}", "--", str(body_file),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    probes = asyncio.create_task(probe_while(url, body, running))
    output, _ = await wrk.communicate()
    running.clear()
    answers = await probes
    stopped = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:
        while (await http.post(ROUTE, content=body, headers=JSON_HEADERS)).status_code != 200:
            if time.perf_counter() - stopped > RECOVERY_BOUND_S:
                raise SystemExit(f"not serving {RECOVERY_BOUND_S:g} s after the load stopped")
            await asyncio.sleep(0.05)
    return output.decode(), answers, time.perf_counter() - stopped


def main(argv: Sequence[str] | None = None) -> OverloadResult:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench.overload needs wrk on the PATH (Debian: apt-get install wrk)")
    prepare_environment(fast_path=True, extra={})
    from bench.server import deployed, local_serve

    result = OverloadResult(str(args.config))
    bodies = detection_bodies(MODEL, build_images(32, 90).jpeg_b64, 1)
    with tempfile.TemporaryDirectory(prefix="overload-") as workdir:
        body_file = Path(workdir) / "body.json"
        body_file.write_bytes(bodies[0])
        config = build_config(read_app_args(args.config), Overrides(MODEL, Path(workdir) / "c"))
        with local_serve(ray_cpus=8) as port, deployed(config, port) as url:
            result.saturation_clients, result.saturated_images_per_s = saturation(url, bodies)
            result.connections = args.factor * result.saturation_clients
            print(
                f"saturated by {result.saturation_clients} clients at "
                f"{result.saturated_images_per_s:.0f} img/s; {result.connections} connections now"
            )
            output, answers, recovered = asyncio.run(
                overload(url, body_file, bodies[0], result.connections, args.duration)
            )
    statuses = re.search(r"^STATUSES(.*)$", output, re.MULTILINE)
    summary = re.search(r"requests=(\d+) duration_us=(\d+)", output)
    if statuses is None or summary is None:
        raise SystemExit(f"wrk said:\n{output}")
    pairs = (item.split("=") for item in statuses.group(1).split())
    result.statuses = {status: int(count) for status, count in pairs}
    result.offered_requests_per_s = int(summary.group(1)) / (int(summary.group(2)) / 1e6)
    result.probe_statuses = {str(k): v for k, v in Counter(a[0] for a in answers).items()}
    result.probe_accepted_ms = percentiles([ms for status, ms, _ in answers if status == 200])
    result.probe_rejected_ms = percentiles([ms for status, ms, _ in answers if status == 503])
    result.retry_after = sorted({retry for status, _, retry in answers if status == 503})
    result.recovered_after_s = recovered
    save_record(result, args.out)
    return result


if __name__ == "__main__":
    main()
