"""``rfserve bench``: a quick closed-loop load test of a running server, this one or
Roboflow's, comparable with Roboflow's ``inference benchmark api-speed``.

The options keep that command's names and meanings: ``-c`` clients each send ``-br``
requests one after the other (so ``-c 8 -br 100`` sends 800), after ``-wr`` warm-up
requests; ``-bs`` images per request go to ``/infer/{task}`` (the task read from
``/model/add``, as Roboflow's client does), or with ``-L`` one image per request to
the classic ``/{dataset}/{version}`` route. It prints what Roboflow's prints (average
latency, the server's own time per image, requests per second, p75, p90, error rate),
plus images per second and the other percentiles. For the project's full benchmark
against references measured in the same run, see ``bench/`` in the repository.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from serve_app.examples import EXAMPLE_IMAGE
from serve_app.launch.arguments import Commands, add_server_options, fail
from serve_app.launch.client import Answer, InferenceClient, ServerError
from serve_app.launch.infer import IMAGE_EXTENSIONS

PERCENTILES = (50, 75, 90, 95, 99)


@dataclass(frozen=True)
class Sample:
    seconds: float
    images: int
    error: str | None = None
    """The status code, or the exception's name where there was none."""
    server_s: float | None = None
    """The answer's ``time``: the server's own time for the request."""


@dataclass(frozen=True)
class Summary:
    requests: int
    images: int
    duration_s: float
    images_per_second: float
    requests_per_second: float
    error_rate: float
    """Per cent of requests."""
    errors: dict[str, int]
    latency_ms: dict[str, float]
    """``avg``, ``std``, ``p50`` ... ``p99``, ``max`` of the round trips."""
    server_ms_per_image: float | None


def add_parsers(commands: Commands) -> None:
    parser = commands.add_parser(
        "bench",
        add_help=False,
        help="load-test a running server at a given concurrency",
        description="Send requests to a running server from several clients at once, "
        "each waiting for its answer before the next (a closed loop), and print images/s "
        "and latency percentiles. Options as Roboflow's `inference benchmark api-speed`; "
        "-h is the host there, so help is --help only.",
    )
    add_server_options(parser)
    parser.add_argument(
        "-d",
        "--dataset_reference",
        type=Path,
        default=EXAMPLE_IMAGE,
        help="an image, or a folder of images, to send (default: the bundled example)",
    )
    parser.add_argument(
        "-wr", "--warm_up_requests", type=int, default=10, help="warm-up requests (default 10)"
    )
    parser.add_argument(
        "-br",
        "--benchmark_requests",
        type=int,
        default=1000,
        help="requests each client sends (default 1000)",
    )
    parser.add_argument(
        "-bs", "--batch_size", type=int, default=1, help="images per request (default 1)"
    )
    parser.add_argument(
        "-c", "--clients", type=int, default=1, help="clients sending at once (default 1)"
    )
    parser.add_argument(
        "-L",
        "--legacy-endpoints",
        action="store_true",
        help="send to the classic /{dataset}/{version} route (one image per request)",
    )
    parser.add_argument(
        "-o", "--output_location", type=Path, help="also write the results to this JSON file"
    )
    parser.add_argument(
        "--max_error_rate",
        type=float,
        help="exit 1 when more than this per cent of requests fail",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if min(args.clients, args.batch_size, args.benchmark_requests) < 1:
        return fail("rfserve bench", "--clients, --batch_size and --benchmark_requests must be ≥ 1")
    if args.legacy_endpoints and args.batch_size != 1:
        return fail("rfserve bench", "the classic route takes one image per request: -bs 1")
    try:
        images = load_images(args.dataset_reference)
    except (OSError, ValueError) as exc:
        return fail("rfserve bench", str(exc))
    client = InferenceClient(args.host, args.api_key)
    try:
        route = f"/{args.model_id}" if args.legacy_endpoints else None
        if route is None:
            route = f"/infer/{client.task_route(args.model_id)}"
        request = _requester(client, args.model_id, route, images, args.batch_size)
        warm_up(request, args.warm_up_requests)
        samples, duration = measure(request, args.batch_size, args.clients, args.benchmark_requests)
    except ServerError as exc:
        return fail("rfserve bench", exc.message)
    finally:
        client.close()
    summary = summarize(samples, duration)
    print(
        f"{args.model_id} on {args.host}{route}: {args.clients} client(s), "
        f"{args.batch_size} image(s) per request"
    )
    print(report(summary))
    if args.output_location is not None:
        parameters = {k: str(v) for k, v in vars(args).items() if k not in ("run", "api_key")}
        result = {"parameters": parameters, **asdict(summary)}
        args.output_location.write_text(json.dumps(result, indent=1))
    if args.max_error_rate is not None and summary.error_rate > args.max_error_rate:
        return fail("rfserve bench", f"error rate {summary.error_rate} % > {args.max_error_rate} %")
    return 0


def load_images(reference: Path) -> list[str]:
    """The base64 of each image file ``reference`` names, sent as is (not re-encoded)."""
    if reference.is_dir():
        files = sorted(p for p in reference.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    else:
        files = [reference] if reference.is_file() else []
    if not files:
        raise ValueError(f"{reference}: no image file (.jpg, .jpeg, .png) there")
    return [base64.b64encode(path.read_bytes()).decode() for path in files]


Request = Callable[[int], Answer]
"""Sends request number ``n``; raises :class:`ServerError` for an error answer."""


def _requester(
    client: InferenceClient, model_id: str, route: str, images: list[str], batch: int
) -> Request:
    def request(number: int) -> Answer:
        chosen = [images[(number * batch + i) % len(images)] for i in range(batch)]
        if route.startswith("/infer/"):
            return client.infer(route.removeprefix("/infer/"), model_id, chosen)
        return client.classic(model_id, base64.b64decode(chosen[0]))

    return request


def timed(request: Request, number: int, batch: int) -> Sample:
    start = time.perf_counter()
    try:
        answer = request(number)
    except ServerError as exc:
        error = str(exc.status) if exc.status is not None else "unreachable"
        return Sample(time.perf_counter() - start, batch, error)
    return Sample(time.perf_counter() - start, batch, None, _server_time(answer))


def _server_time(answer: Answer) -> float | None:
    first = answer.body[0] if isinstance(answer.body, list) and answer.body else answer.body
    value = first.get("time") if isinstance(first, dict) else None
    return float(value) if isinstance(value, int | float) else None


def warm_up(request: Request, requests: int) -> None:
    """Warm-up requests; the server's message when every one of them failed, rather
    than a measure of nothing but errors."""
    failures = []
    for number in range(requests):
        try:
            request(number)
        except ServerError as exc:
            failures.append(exc)
    if requests and len(failures) == requests:
        raise ServerError(f"every warm-up request failed: {failures[0].message}")


def measure(
    request: Request, batch: int, clients: int, per_client: int
) -> tuple[list[Sample], float]:
    """``clients`` threads, each sending ``per_client`` requests one after the other."""
    from tqdm import tqdm

    samples: list[Sample] = []
    guard = threading.Lock()
    bar = tqdm(total=clients * per_client, unit="req", file=sys.stderr, leave=False)

    def client_loop(index: int) -> None:
        for n in range(per_client):
            sample = timed(request, index * per_client + n, batch)
            with guard:
                samples.append(sample)
                bar.update()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    with bar:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return samples, time.perf_counter() - start


def summarize(samples: list[Sample], duration_s: float) -> Summary:
    latencies = sorted(s.seconds * 1000 for s in samples)
    mean = sum(latencies) / len(latencies)
    std = math.sqrt(sum((x - mean) ** 2 for x in latencies) / len(latencies))
    latency = {"avg": mean, "std": std}
    latency |= {f"p{q}": percentile(latencies, q) for q in PERCENTILES}
    latency["max"] = latencies[-1]
    errors: dict[str, int] = {}
    for sample in samples:
        if sample.error is not None:
            errors[sample.error] = errors.get(sample.error, 0) + 1
    timed = [s for s in samples if s.server_s is not None]
    images = sum(s.images for s in samples)
    server = (
        1000 * sum(s.server_s or 0.0 for s in timed) / sum(s.images for s in timed)
        if timed
        else None
    )
    return Summary(
        requests=len(samples),
        images=images,
        duration_s=round(duration_s, 3),
        images_per_second=round(images / duration_s, 1),
        requests_per_second=round(len(samples) / duration_s, 1),
        error_rate=round(100 * sum(errors.values()) / len(samples), 2),
        errors=errors,
        latency_ms={k: round(v, 1) for k, v in latency.items()},
        server_ms_per_image=None if server is None else round(server, 2),
    )


def percentile(ordered: list[float], q: float) -> float:
    """The ``q``-th percentile of sorted values, interpolated between the two nearest
    ranks (NumPy's default, which Roboflow's benchmark uses)."""
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def report(summary: Summary) -> str:
    lat = summary.latency_ms
    server = "N/A" if summary.server_ms_per_image is None else f"{summary.server_ms_per_image}ms"
    errors = ", ".join(f"{code}: {count}" for code, count in summary.errors.items()) or "none"
    return "\n".join(
        (
            f"{summary.requests} requests, {summary.images} images in {summary.duration_s:.1f} s",
            f"images/s: {summary.images_per_second}\t| rps: {summary.requests_per_second}"
            f"\t| %err: {summary.error_rate} ({errors})",
            f"latency: avg: {lat['avg']}ms\t| std: {lat['std']}ms\t| p50: {lat['p50']}ms"
            f"\t| p75: {lat['p75']}ms\t| p90: {lat['p90']}ms\t| p95: {lat['p95']}ms"
            f"\t| p99: {lat['p99']}ms\t| max: {lat['max']}ms",
            f"exec_avg (the server's `time` per image): {server}",
        )
    )
