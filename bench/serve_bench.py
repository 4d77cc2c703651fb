"""Benchmark the served application against the raw engine, in one run.

    python -m bench.serve_bench                       # bundled shapes-detection/1
    python -m bench.serve_bench --model fixture --duration 5
    python -m bench.serve_bench --url http://127.0.0.1:9001 --out results/run.json

The raw engine (and ``--profile``) run first, on a quiet machine; then this process
starts Ray and the application from the config YAML (or uses ``--url``) and loads it
with N closed-loop HTTP clients. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load import LoadResult, LoadSpec, check_loopback, probe, run_load
from bench.payloads import BenchImages, build_images, detection_body
from bench.reference import measure_raw, network_inputs
from bench.report import (
    BenchResult,
    busy_machine_note,
    format_summary,
    machine_info,
    write_json,
)
from bench.server import (
    Overrides,
    build_config,
    local_server,
    model_replica_stats,
    read_app_args,
)
from bench.stages import profile_stages
from serve_app.config import AppConfig
from serve_app.errors import ServeAppError
from serve_app.weights import ModelPackage, ModelStore

DEFAULT_MODEL = "shapes-detection/1"
FIXTURE = "fixture"
FIXTURE_MODEL = "fixture-yolov8/1"
PROBE_TIMEOUT_S = 120.0
EXTERNAL_NOTE = (
    "--url: the server was started elsewhere, so its engine thread budget, CPU share "
    "and machine load are unknown here; the raw figures use this config's thread budget "
    "on this machine, so served/raw is not a guaranteed like-for-like comparison"
)
SHARED_CPU_NOTE = (
    "the load generator runs on the server's machine and takes CPU from it "
    "(see 'load generator CPU')"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("configs/local.yaml"),
        help="serve config YAML whose application args give the layout",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model id, or '{FIXTURE}' for generated fixture models",
    )
    parser.add_argument("--batch-size", type=int, help="override batching.max_batch_size")
    parser.add_argument(
        "--batch-wait", type=float, help="override batching.batch_wait_timeout_s (seconds)"
    )
    parser.add_argument("--num-threads", type=int, help="override engine.num_threads")
    parser.add_argument("--url", help="benchmark a running server on 127.0.0.1 instead")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--images", type=int, default=32, help="distinct images to send")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument(
        "--raw-duration",
        type=float,
        default=10.0,
        help="seconds of raw engine timing per batch size",
    )
    parser.add_argument(
        "--ray-cpus",
        type=int,
        default=8,
        help="logical CPUs for the local Ray (deployments ask for fractions)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="MODEL_CACHE_DIR for this run (default: a fresh temp dir)"
    )
    parser.add_argument("--profile", action="store_true", help="per-stage cost breakdown")
    parser.add_argument("--profile-repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    if args.url:
        try:
            check_loopback(args.url)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def prepare_config(args: argparse.Namespace, workdir: Path) -> tuple[AppConfig, str]:
    """The application config of this run and the model id to request."""
    model_id, models_dir = args.model, None
    if args.model == FIXTURE:
        from tools.fixtures import write_fixture_models

        models_dir = workdir / "fixture-models"
        write_fixture_models(models_dir)
        model_id = FIXTURE_MODEL
    overrides = Overrides(
        model_id=model_id,
        cache_dir=args.cache_dir or workdir / "cache",
        local_models_dir=models_dir,
        max_batch_size=args.batch_size,
        batch_wait_timeout_s=args.batch_wait,
        num_threads=args.num_threads,
    )
    return build_config(read_app_args(args.config), overrides), model_id


def find_package(config: AppConfig, model_id: str) -> ModelPackage | None:
    try:
        return ModelStore.from_settings(config.settings).package(model_id)
    except ServeAppError:
        return None


def measure_quiet(
    result: BenchResult,
    args: argparse.Namespace,
    config: AppConfig,
    package: ModelPackage,
    images: BenchImages,
    bodies: list[bytes],
) -> None:
    """Raw engine and stage profile: run while no server is loading the machine."""
    max_batch = config.batching.max_batch_size
    pixels = network_inputs(images.images_bgr, package)
    print(f"raw engine: batch 1 and {max_batch}, {args.raw_duration:.0f} s each ...", flush=True)
    result.raw = measure_raw(package, config.engine, pixels, {1, max_batch}, args.raw_duration)
    if args.profile:
        print("profiling stages ...", flush=True)
        result.profile = profile_stages(
            bodies, package, config.settings, config.engine, max_batch, args.profile_repeats
        )


def load_server(base_url: str, args: argparse.Namespace, bodies: list[bytes]) -> LoadResult:
    spec = LoadSpec(
        base_url=base_url,
        concurrency=args.concurrency,
        warmup_s=args.warmup,
        duration_s=args.duration,
        timeout_s=args.timeout,
        max_requests=args.max_requests,
    )
    asyncio.run(probe(base_url, bodies[0], PROBE_TIMEOUT_S))
    print(
        f"load: {spec.concurrency} clients, {spec.warmup_s:.0f} s warm-up + "
        f"{spec.duration_s:.0f} s measured on {base_url} ...",
        flush=True,
    )
    return asyncio.run(run_load(spec, bodies))


def measure_served(
    result: BenchResult, args: argparse.Namespace, config: AppConfig, bodies: list[bytes]
) -> None:
    if args.url:
        result.served = load_server(args.url, args, bodies)
        return
    print(f"starting Ray ({args.ray_cpus} logical CPUs) and the application ...", flush=True)
    with local_server(config, args.ray_cpus) as base_url:
        result.served = load_server(base_url, args, bodies)
        # Read after the load: counters cover warm-up and the measured window.
        result.replica_batches = batch_summary(model_replica_stats(config.name))


def batch_summary(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stats or not stats.get("batches"):
        return None
    return {
        "mean_batch_size": stats["images"] / stats["batches"],
        "batch_size_counts": stats["batch_size_counts"],
        "batches": stats["batches"],
    }


def describe_run(
    args: argparse.Namespace,
    config: AppConfig,
    model_id: str,
    package: ModelPackage | None,
    images: BenchImages,
) -> BenchResult:
    return BenchResult(
        mode="external" if args.url else "in-process",
        model_id=model_id,
        input_size=(package.input_width, package.input_height) if package else None,
        config=config.model_dump(mode="json", exclude={"settings"}),
        images={
            "count": len(images.jpeg_b64),
            "source": images.source,
            "jpeg_quality": images.quality,
            "mean_jpeg_kb": images.mean_jpeg_kb,
        },
        machine=machine_info(),
    )


def main(argv: Sequence[str] | None = None) -> BenchResult:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as workdir:
        config, model_id = prepare_config(args, Path(workdir))
        images = build_images(args.images, args.jpeg_quality)
        bodies = [detection_body(model_id, image) for image in images.jpeg_b64]
        package = find_package(config, model_id)
        result = describe_run(args, config, model_id, package, images)
        if package is None:
            result.notes.append(f"{model_id} is not available on this machine: no raw figures")
        else:
            measure_quiet(result, args, config, package, images, bodies)
        measure_served(result, args, config, bodies)
    result.machine["load_average_at_end"] = os.getloadavg()[0]
    result.notes.append(EXTERNAL_NOTE if args.url else SHARED_CPU_NOTE)
    busy = busy_machine_note(result.machine)
    if busy is not None:
        result.notes.append(busy)
    print("\n" + format_summary(result))
    if args.out:
        write_json(result, args.out)
        print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
