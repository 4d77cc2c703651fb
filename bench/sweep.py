"""What the size and models sweeps share: the servers under test, and one measured point.

Servers are measured one at a time: the ``--compare-url`` server (already running,
Roboflow's for instance), servers of ours named by ``--url`` (already running), then
each ``--server`` spec (``bench/launch.py``), started from its checkout, measured and
stopped before the next starts. A point is N closed-loop clients for a warm-up and a
window (``bench/load.py``); over the window the CPU time of the server's processes is
read from /proc by role (HAProxy, each deployment's replicas, Ray's daemons), and
over the whole point its counters from its Prometheus endpoint (models loaded and
evicted, images per hop, seconds per stage).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench import prometheus
from bench.busy import busy
from bench.launch import ServerSpec, launched
from bench.load import LoadResult, LoadSpec, check_loopback, probe, run_load
from bench.processes import TreeCpu, listening_pids

COMPARE = "compare"
MACHINE_CPU = "machine, all but the load generator"
"""The CPU role of a server whose processes are not known: every process but ours."""
PROBE_TIMEOUT_S = 300.0

COUNTERS: dict[str, tuple[str, dict[str, str]]] = {
    "model loads": ("ray_rfserve_model_loads_total", {"result": "loaded"}),
    "model evictions": ("ray_rfserve_model_evictions_total", {}),
    "model load s": ("ray_rfserve_model_load_seconds_sum", {}),
    "preprocess s": ("ray_rfserve_stage_seconds_sum", {"stage": "preprocess"}),
    "forward s": ("ray_rfserve_stage_seconds_sum", {"stage": "forward"}),
    "postprocess s": ("ray_rfserve_stage_seconds_sum", {"stage": "postprocess"}),
    "forward passes": ("ray_rfserve_stage_seconds_count", {"stage": "forward"}),
    "images into model": ("ray_rfserve_group_images_sum", {"hop": "model"}),
    "calls into model": ("ray_rfserve_group_images_count", {"hop": "model"}),
}
"""Counters read over each point of ours: label → (metric, labels it must carry)."""
PER_REPLICA = ("model loads", "model evictions")


@dataclass(frozen=True)
class Server:
    label: str
    url: str
    root_pid: int | None
    """Every process of the server descends from it; None: not known."""
    metrics_url: str | None = None
    ours: bool = True


@dataclass
class Measured:
    server: str
    case: str
    """What was sent: an image size, a number of models."""
    load: LoadResult
    cpu_s: dict[str, float]
    """CPU seconds over the window, by process role."""
    counters: dict[str, float] = field(default_factory=dict)
    """Over the point (warm-up included), ours only; see :data:`COUNTERS`."""
    per_replica: dict[str, dict[str, float]] = field(default_factory=dict)
    """:data:`PER_REPLICA` counters by replica id."""

    @property
    def images(self) -> int:
        return self.load.completed_in_window * self.load.images_per_request

    def cpu_ms_per_image(self, role: str | None = None) -> float | None:
        """Server CPU per image served in the window: all roles, or one."""
        seconds = sum(self.cpu_s.values()) if role is None else self.cpu_s.get(role, 0.0)
        return 1e3 * seconds / self.images if self.images else None


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        action="append",
        metavar="SPEC",
        help="[LABEL=]split|fused|YAML[@CHECKOUT][,NAME=VALUE...]: one of ours to start "
        "and measure (bench/launch.py); default: split and fused from this checkout",
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="LABEL=URL[,METRICS_URL]",
        help="one of ours already running (its CPU is the machine's, all but the clients)",
    )
    parser.add_argument("--compare-url", help="a Roboflow-compatible server, already running")
    parser.add_argument("--compare-api-key", default="bench")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for servers started"
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="N processes spinning on a core each, at niceness 0, during every point: "
        "another workload on the machine",
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured s per point")
    parser.add_argument("--duration", type=float, default=15.0, help="measured s per point")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, s")
    parser.add_argument(
        "--no-counters",
        action="store_true",
        help="skip the Prometheus counters (saves 12 s a point)",
    )
    parser.add_argument("--out", type=Path, help="write OUT.json, OUT.md and OUT.png")


def busy_note(args: argparse.Namespace) -> str:
    """How busy the machine was made during the points, for a table's heading."""
    return (
        f" {args.busy} other processes spinning at niceness 0 during every point."
        if args.busy
        else ""
    )


def server_specs(args: argparse.Namespace) -> list[ServerSpec]:
    specs = [ServerSpec.parse(text) for text in (args.server or ["split", "fused"])]
    labels = [s.label for s in specs] + [u.split("=", 1)[0] for u in args.url] + [COMPARE]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"server labels must differ: {labels}")
    return specs


def run_servers(
    args: argparse.Namespace,
    models: Sequence[str],
    models_dir: Path | None,
    workdir: Path,
    run: Callable[[Server, list[Measured]], None],
) -> tuple[list[Measured], dict[str, str]]:
    """``run`` every server of the run in turn, each adding its points to the list it
    is given; ours are stopped before the next starts. A server that fails to start
    or to answer is reported and the run goes on: (points, failures by server)."""
    measured: list[Measured] = []
    failed: dict[str, str] = {}

    def attempt(label: str, measure_server: Callable[[], None]) -> None:
        try:
            measure_server()
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            print(f"  {label} failed: {exc}", flush=True)
            failed[label] = f"{type(exc).__name__}: {exc}"

    if args.compare_url:
        check_loopback(args.compare_url)
        compare = Server(COMPARE, args.compare_url, _pid_of(args.compare_url), ours=False)
        attempt(COMPARE, lambda: run(compare, measured))
    for item in args.url:
        label, _, urls = item.partition("=")
        url, _, metrics_url = urls.partition(",")
        check_loopback(url)
        running = Server(label, url, None, metrics_url or None)
        attempt(label, lambda server=running: run(server, measured))  # type: ignore[misc]
    env = dict(item.split("=", 1) for item in args.env)
    for spec in server_specs(args):

        def start_and_run(spec: ServerSpec = spec) -> None:
            print(f"starting {spec.label} ({spec.config_path}) ...", flush=True)
            with launched(spec, models, models_dir, workdir, env) as started:
                run(Server(spec.label, started.url, started.pid, started.metrics_url), measured)

        attempt(spec.label, start_and_run)
    return measured, failed


def _pid_of(url: str) -> int | None:
    port = urlsplit(url).port
    pids = listening_pids(port) if port else []
    return pids[0] if len(pids) == 1 else None


def interleave(
    models: Sequence[str], images_b64: Sequence[str], shuffle_seed: int | None = None
) -> list[tuple[str, str]]:
    """(model, image) pairs: request i goes to model i mod M with image i mod I; with
    ``shuffle_seed``, the models of each round of M come in a random order instead."""
    count = math.lcm(len(models), len(images_b64))
    order = list(range(count))
    if shuffle_seed is not None:
        rng = random.Random(shuffle_seed)
        for start in range(0, count, len(models)):
            chunk = order[start : start + len(models)]
            rng.shuffle(chunk)
            order[start : start + len(models)] = chunk
    return [(models[i % len(models)], images_b64[k % len(images_b64)]) for k, i in enumerate(order)]


def request_bodies(pairs: Sequence[tuple[str, str]], api_key: str | None) -> list[bytes]:
    from bench.payloads import detection_bodies

    return [detection_bodies(model, [image], 1, api_key)[0] for model, image in pairs]


def warm(server: Server, bodies: Sequence[bytes]) -> None:
    """One request per body, in turn: loads every model before timing."""
    for body in bodies:
        asyncio.run(probe(server.url, body, PROBE_TIMEOUT_S))


def measure(
    server: Server,
    case: str,
    bodies: Sequence[bytes],
    clients: int,
    args: argparse.Namespace,
) -> Measured:
    spec = LoadSpec(server.url, clients, args.warmup, args.duration, args.timeout)
    print(f"  {server.label}, {case}: {clients} client(s) ...", flush=True)
    tree = TreeCpu(server.root_pid) if server.root_pid else None
    counting = server.metrics_url is not None and not args.no_counters
    before = prometheus.scrape(server.metrics_url) if counting and server.metrics_url else {}
    with busy(args.busy):
        load = asyncio.run(run_load(spec, bodies, [tree] if tree else []))
    cpu = tree.by_role if tree else {MACHINE_CPU: load.server_cpu_s}
    result = Measured(server.label, case, load, cpu)
    if counting and server.metrics_url:
        after = prometheus.scrape(server.metrics_url, prometheus.EXPORT_LAG_S)
        _count(result, before, after)
    return result


def _count(
    result: Measured, before: dict[prometheus.Sample, float], after: dict[prometheus.Sample, float]
) -> None:
    names = {metric for metric, _ in COUNTERS.values()}
    changed = prometheus.delta(before, after, names)
    for label, (metric, match) in COUNTERS.items():
        result.counters[label] = sum(prometheus.total(changed, metric, **match).values())
        if label in PER_REPLICA:
            by_replica = prometheus.total(changed, metric, by="replica", **match)
            result.per_replica[label] = {k: v for k, v in by_replica.items() if v}


def settle(server: Server, args: argparse.Namespace) -> None:
    """Wait until what the warm-up requests recorded has been exported."""
    if server.metrics_url and not args.no_counters:
        prometheus.scrape(server.metrics_url, prometheus.EXPORT_LAG_S)
