"""Sweep the server against the raw engine (and, optionally, another server), in one run.

    python -m bench.serve_bench --out bench/results/shapes-320
    python -m bench.serve_bench --compare-url http://127.0.0.1:9101 --out bench/results/vs-peer
    python -m bench.serve_bench --model fixture --duration 3 --concurrency 1 8

First, on a quiet machine, the raw engine saturating it (and ``--profile``); then the
``--compare-url`` server, if any, under the same load generator; then this process
starts a local Ray on the fast path and deploys each composition in turn (``split``
from configs/split.yaml, ``fused`` from configs/local.yaml), each loaded with single-
image and list requests at every concurrency. See bench/README.md for each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load import LoadSpec, check_loopback, probe, run_load
from bench.payloads import BenchImages, build_images, detection_bodies
from bench.reference import measure_saturated, network_inputs
from bench.report import (
    COMPARE,
    Point,
    SweepResult,
    busy_machine_note,
    machine_info,
    markdown,
    write_json,
)
from bench.server import Overrides, build_config, prepare_environment, read_app_args
from serve_app.app import weight_sources
from serve_app.config import AppConfig, Composition
from serve_app.core.spec import ModelPackage
from serve_app.errors import ServeAppError
from serve_app.weights.store import package_store

DEFAULT_MODEL = "shapes-detection/1"
FIXTURE = "fixture"
FIXTURE_MODEL = "fixture-yolov8/1"
PROBE_TIMEOUT_S = 180.0
CONFIGS: dict[Composition, Path] = {
    "split": Path("configs/split.yaml"),
    "fused": Path("configs/local.yaml"),
}
HOPS = {"preprocessing": "dispatched", "model": "model.received", "forward": "model.forward"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model id, or '{FIXTURE}'")
    parser.add_argument(
        "--models-dir", type=Path, help="folder of model packages to serve from (local source)"
    )
    parser.add_argument(
        "--compositions", nargs="+", choices=sorted(CONFIGS), default=["split", "fused"]
    )
    parser.add_argument("--split-config", type=Path, default=CONFIGS["split"])
    parser.add_argument("--fused-config", type=Path, default=CONFIGS["fused"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--images-per-request", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--compare-url", help="also load this Roboflow-compatible server")
    parser.add_argument(
        "--compare-api-key", default="bench", help="api_key sent to the compared server"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="measured s per point")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured s per point")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, s")
    parser.add_argument("--images", type=int, default=32, help="distinct images sent in turn")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--raw-duration", type=float, default=5.0, help="s per raw layout")
    parser.add_argument("--ray-cpus", type=int, default=8, help="logical CPUs of the local Ray")
    parser.add_argument(
        "--no-fast-path", action="store_true", help="start Serve without rfserve's settings"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="set before Ray starts"
    )
    parser.add_argument("--profile", action="store_true", help="per-stage cost breakdown")
    parser.add_argument("--out", type=Path, help="write OUT.json, OUT.md and OUT.png")
    args = parser.parse_args(argv)
    if args.compare_url:
        try:
            check_loopback(args.compare_url)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> SweepResult:
    args = parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    environment = prepare_environment(not args.no_fast_path, extra)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as workdir:
        model_id, models_dir = args.model, args.models_dir
        if args.model == FIXTURE:
            from tools.fixtures import write_fixture_models

            models_dir = Path(workdir) / "fixture-models"
            write_fixture_models(models_dir)
            model_id = FIXTURE_MODEL
        overrides = Overrides(model_id, Path(workdir) / "cache", models_dir)
        configs: dict[Composition, AppConfig] = {
            c: build_config(read_app_args(getattr(args, f"{c}_config")), overrides)
            for c in args.compositions
        }
        images = build_images(args.images, args.jpeg_quality)
        package = _find_package(next(iter(configs.values())), model_id)
        result = SweepResult(
            model_id=model_id,
            input_size=(package.spec.input_width, package.spec.input_height) if package else None,
            machine=machine_info(),
            images=_describe(images),
            environment=environment,
            configs={
                c: cfg.model_dump(mode="json", exclude={"settings"}) for c, cfg in configs.items()
            },
            compare_url=args.compare_url,
        )
        if package is None:
            result.notes.append(f"{model_id} is not on this machine: no raw figures")
        else:
            _measure_quiet(result, args, configs, package, images)
        if args.compare_url:
            _sweep(result, args, COMPARE, args.compare_url, model_id, images, None)
        _sweep_ours(result, args, configs, model_id, images)
    busy = busy_machine_note(result.machine)
    if busy:
        result.notes.append(busy)
    result.notes.append(
        "the load generator runs on the server's machine; its CPU is not counted as the "
        "server's but it takes cores from it"
    )
    text = markdown(result)
    print("\n" + text)
    if args.out:
        write_json(result, args.out.with_suffix(".json"))
        args.out.with_suffix(".md").write_text(text + "\n")
        from bench.plot import plot_sweep

        plot_sweep(result, args.out.with_suffix(".png"))
        print(f"\nwrote {args.out}.json, .md and .png")
    return result


def _find_package(config: AppConfig, model_id: str) -> ModelPackage | None:
    try:
        return package_store(weight_sources(config.settings)).package(model_id)
    except ServeAppError:
        return None


def _describe(images: BenchImages) -> dict[str, Any]:
    return {
        "count": len(images.jpeg_b64),
        "source": images.source,
        "jpeg_quality": images.quality,
        "mean_jpeg_kb": images.mean_jpeg_kb,
    }


def _measure_quiet(
    result: SweepResult,
    args: argparse.Namespace,
    configs: dict[Composition, AppConfig],
    package: ModelPackage,
    images: BenchImages,
) -> None:
    """Raw engine and stage profile, while no server of ours loads the machine."""
    pixels = network_inputs(images.images_bgr, package)
    cpus = int(result.machine["cpus_usable"])
    max_batch = max(cfg.batching.max_batch_size for cfg in configs.values())
    print(f"raw engine: saturating {cpus} CPUs, {args.raw_duration:.0f} s per layout ...")
    result.raw = measure_saturated(package, pixels, cpus, {1, max_batch}, args.raw_duration)
    if args.profile:
        from bench.stages import profile_stages

        config = next(iter(configs.values()))
        bodies = detection_bodies(result.model_id, images.jpeg_b64, 1)
        print("profiling stages ...")
        result.profile = profile_stages(
            bodies, package, config.settings, config.engine, max_batch, repeats=5
        )


def _sweep_ours(
    result: SweepResult,
    args: argparse.Namespace,
    configs: dict[Composition, AppConfig],
    model_id: str,
    images: BenchImages,
) -> None:
    # Imported now: Ray Serve reads its settings at its first import.
    from bench.server import deployed, local_serve

    with local_serve(args.ray_cpus) as port:
        for composition, config in configs.items():
            print(f"deploying the {composition} composition ...")
            with deployed(config, port) as url:
                _sweep(result, args, composition, url, model_id, images, config.name)


def _sweep(
    result: SweepResult,
    args: argparse.Namespace,
    server: str,
    url: str,
    model_id: str,
    images: BenchImages,
    app_name: str | None,
) -> None:
    api_key = args.compare_api_key if server == COMPARE else None
    for per_request in args.images_per_request:
        bodies = detection_bodies(model_id, images.jpeg_b64, per_request, api_key)
        asyncio.run(probe(url, bodies[0], PROBE_TIMEOUT_S))
        for clients in args.concurrency:
            spec = LoadSpec(
                url, clients, args.warmup, args.duration, args.timeout,
                images_per_request=per_request,
            )  # fmt: skip
            print(f"  {server}: {clients} clients x {per_request} image(s) ...", flush=True)
            before = _hop_counts(server, app_name)
            load = asyncio.run(run_load(spec, bodies))
            hops = _hop_means(before, _hop_counts(server, app_name))
            result.points.append(Point(server, load, hops))


def _hop_counts(server: str, app_name: str | None) -> dict[str, dict[str, int]] | None:
    if app_name is None or server == COMPARE:
        return None
    from bench.handles import hop_stats

    stats = hop_stats(app_name, server)  # type: ignore[arg-type]
    counts = {}
    for hop, path in HOPS.items():
        node: Any = stats
        for key in path.split("."):
            node = node[key]
        counts[hop] = {"calls": node["calls"], "images": node["images"]}
    return counts


def _hop_means(
    before: dict[str, dict[str, int]] | None, after: dict[str, dict[str, int]] | None
) -> dict[str, float] | None:
    if before is None or after is None:
        return None
    means = {}
    for hop in HOPS:
        calls = after[hop]["calls"] - before[hop]["calls"]
        means[hop] = (after[hop]["images"] - before[hop]["images"]) / calls if calls else 0.0
    return means


if __name__ == "__main__":
    main()
