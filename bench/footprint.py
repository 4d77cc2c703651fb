"""Footprint of a server started with the project's start command: processes, memory
(PSS, which adds up across processes) idle and under load, and time to ready.

    python -m bench.footprint configs/edge.yaml --out bench/results/edge-footprint
    python -m bench.footprint configs/edge.yaml -- --object-store-memory 100000000

Runs ``rfserve start CONFIG [options after --]`` as a child process, times it until
``GET /readiness`` answers 200, samples the PSS of every process below it idle and
every second while N clients load it (the peak is kept), then stops it with SIGINT and
times the shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import LoadSpec, run_load
from bench.payloads import build_images, detection_bodies
from bench.processes import memory_of, mib_by_name, server_memory
from bench.report import save_record

MODEL = "shapes-detection/1"
PORT = 9001


@dataclass
class Snapshot:
    processes: int
    pss_mib: float
    rss_mib: float
    by_process_pss_mib: dict[str, float] = field(default_factory=dict)


@dataclass
class Footprint:
    command: list[str]
    ready_after_s: float | None = None
    idle: Snapshot | None = None
    loaded: Snapshot | None = None
    load_images_per_s: float | None = None
    stopped_after_s: float | None = None


def snapshot(root: int) -> Snapshot:
    """The start command's process and every process below it."""
    own = memory_of(root)
    memory = [*server_memory(root), *([own] if own else [])]
    return Snapshot(
        processes=len(memory),
        pss_mib=round(sum(p.pss_bytes for p in memory) / 2**20, 1),
        rss_mib=round(sum(p.rss_bytes for p in memory) / 2**20, 1),
        by_process_pss_mib=mib_by_name(memory, pss=True),
    )


async def load_and_sample(root: int, spec: LoadSpec, bodies: list[bytes]) -> tuple[float, Snapshot]:
    """Images per second under ``spec``, and the snapshot of peak PSS during it."""
    load = asyncio.create_task(run_load(spec, bodies))
    peak: Snapshot | None = None
    while not load.done():
        sample = await asyncio.to_thread(snapshot, root)
        peak = sample if peak is None or sample.pss_mib > peak.pss_mib else peak
        await asyncio.sleep(1.0)
    assert peak is not None
    return (await load).images_per_s, peak


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether ``GET /readiness`` answered 200 within ``timeout_s``, the server alive."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s and process.poll() is None:
        try:
            if httpx.get(f"{url}/readiness", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def main(argv: Sequence[str] | None = None) -> Footprint:
    parser = argparse.ArgumentParser(
        prog="python -m bench.footprint", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--load-s", type=float, default=15.0)
    parser.add_argument("--out", type=Path)
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    options = argv[split + 1 :]  # those of rfserve start
    rfserve = str(Path(sys.executable).with_name("rfserve"))
    command = [rfserve, "start", str(args.config), *options]
    result = Footprint(command)
    url = f"http://127.0.0.1:{PORT}"
    started = time.monotonic()
    process = subprocess.Popen(command, start_new_session=True)  # noqa: S603
    try:
        if not wait_ready(url, process, 180):
            raise SystemExit("the server did not get ready")
        result.ready_after_s = time.monotonic() - started
        time.sleep(args.settle_s)
        result.idle = snapshot(process.pid)
        bodies = detection_bodies(MODEL, build_images(16, 90).jpeg_b64, 1)
        spec = LoadSpec(url, args.clients, 2, args.load_s)
        result.load_images_per_s, result.loaded = asyncio.run(
            load_and_sample(process.pid, spec, bodies)
        )
    finally:
        stop = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        result.stopped_after_s = time.monotonic() - stop
    save_record(result, args.out)
    return result


if __name__ == "__main__":
    main()
