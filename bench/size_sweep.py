"""Cost per image by frame size: 640x480, 1920x1080 and 3840x2160 JPEGs, each server.

    python -m bench.size_sweep --compare-url http://127.0.0.1:9101 --out bench/results/sizes-320
    python -m bench.size_sweep --compare-url http://127.0.0.1:9101 \\
        --server split --server fused \\
        --server base-split=split@../baseline --server base-fused=fused@../baseline
    python -m bench.size_sweep --models-dir /tmp/models-640 --model shapes-detection-640/1 ...

First this process times each stage of one request at every size, the forward pass
on one ONNX Runtime thread included (``bench/stages.py``; CPU time, so other work on
the machine does not count). Then each server in turn (``bench/sweep.py``: the compared one,
then ours, started from their checkouts) gets every point: 1 client (latency) and 8
clients (throughput) at each size, and 32 at 640x480. Frames are ``bench/photos.py``
frames (textured scenes with sensor grain, JPEG at quality 90: about 95 KB, 490 KB
and 1.8 MB), one image per request to ``/infer/object_detection``.

The tables: every point with its ratios to the compared server; CPU per image by
process at 8 clients; what each replica spends beyond its stages' in-process time
(what Ray and HTTP add per hop); the stage profile by size; and the images per second
the CPUs of a 16-core GPU node could feed at each size (CPU per image outside the
forward pass).
"""

from __future__ import annotations

import argparse
import base64
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench import sweep, sweep_report
from bench.photos import PHOTO_CACHE, SIZES, photo_files
from bench.report import machine_info

DEFAULT_POINTS = ("640x480:1,8,32", "1920x1080:1,8", "3840x2160:1,8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.size_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", default="shapes-detection/1")
    parser.add_argument("--models-dir", type=Path, help="folder of model packages (ours)")
    parser.add_argument(
        "--points", nargs="+", default=list(DEFAULT_POINTS), metavar="SIZE:CLIENTS,...",
        help=f"sizes ({', '.join(SIZES)}) and the client counts at each",
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=8, help="distinct frames per size")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3, help="profile passes over the frames")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process stages")
    sweep.add_server_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    points = [(size, [int(c) for c in clients.split(",")]) for size, clients in
              (item.split(":") for item in args.points)]  # fmt: skip
    files = {
        size: photo_files(SIZES[size], args.images, args.jpeg_quality, PHOTO_CACHE)
        for size, _ in points
    }
    images = {size: [base64.b64encode(f).decode() for f in fs] for size, fs in files.items()}
    record: dict[str, object] = {
        "model": args.model,
        "machine": machine_info(),
        "busy": args.busy,
        "frames": {s: sum(map(len, fs)) / len(fs) / 1024 for s, fs in files.items()},
    }
    forward_ms, profiles = _measure_quiet(args, images)
    record |= {
        "forward_ms": forward_ms,
        "profiles": {k: [asdict(t) for t in v] for k, v in profiles.items()},
    }

    def run(server: sweep.Server, measured: list[sweep.Measured]) -> None:
        api_key = None if server.ours else args.compare_api_key
        bodies = {
            size: sweep.request_bodies(sweep.interleave([args.model], b64s), api_key)
            for size, b64s in images.items()
        }
        sweep.warm(server, [b[0] for b in bodies.values()])
        sweep.settle(server, args)
        for size, clients in points:
            for n in clients:
                measured.append(sweep.measure(server, size, bodies[size], n, args))

    with tempfile.TemporaryDirectory(prefix="size-sweep-") as workdir:
        measured, failed = sweep.run_servers(
            args, [args.model], args.models_dir, Path(workdir), run
        )
    record["failed"] = failed
    record["points"] = [asdict(p) for p in measured]
    text = _markdown(args, record, measured, forward_ms, profiles, failed)
    title = f"{args.model}, one image per request"
    cases = [size for size, _ in points]
    sweep_report.write_outputs(
        args.out, record, text, lambda png: sweep_report.plot_sizes(measured, cases, title, png)
    )
    return record


def _measure_quiet(
    args: argparse.Namespace, images: dict[str, list[str]]
) -> tuple[float | None, dict[str, list[sweep_report.StageTiming]]]:
    """The stage profile at each size, in this process, from this checkout, and the
    forward pass's CPU per image (one thread) from it."""
    if args.no_profile:
        return None, {}
    from bench.payloads import detection_bodies
    from bench.stages import profile_stages
    from serve_app.config import ServerSettings
    from serve_app.core.engines import EngineOptions
    from serve_app.weight_settings import weight_sources
    from serve_app.weights.store import package_store

    overrides: dict[str, object] = {}
    if args.models_dir:
        overrides = {"local_models_dir": args.models_dir, "weight_sources": ["local"]}
    settings = ServerSettings(**overrides)  # type: ignore[arg-type]
    package = package_store(weight_sources(settings)).package(args.model)
    profiles = {}
    for size, b64s in images.items():
        print(f"profiling the stages at {size} ...", flush=True)
        bodies = detection_bodies(args.model, b64s, 1)
        engine = EngineOptions(backend="onnxruntime", num_threads=1)
        profiles[size] = profile_stages(bodies, package, settings, engine, 1, args.repeats)
    return sweep_report.forward_cpu_ms(profiles), profiles


def _markdown(
    args: argparse.Namespace,
    record: dict[str, object],
    measured: list[sweep.Measured],
    forward_ms: float | None,
    profiles: dict[str, list[sweep_report.StageTiming]],
    failed: dict[str, str],
) -> str:
    machine = record["machine"]
    assert isinstance(machine, dict)
    frames = record["frames"]
    assert isinstance(frames, dict)
    sizes = ", ".join(f"{s} ({kb:.0f} KiB)" for s, kb in frames.items())
    heading = (
        f"Model `{args.model}`; frames {sizes}, "
        f"JPEG q{args.jpeg_quality}; {machine['cpus_usable']} CPUs ({machine['cpu_model']}), "
        f"load average {machine['load_average_at_start']:.2f} at start; forward pass "
        f"{forward_ms or float('nan'):.2f} ms of CPU per image (one thread)."
        + sweep.busy_note(args)
    )
    parts = [
        heading,
        "### Every point\n\n" + sweep_report.points_table(measured, forward_ms),
        "### CPU by process, 8 clients\n\n" + sweep_report.roles_table(measured, 8),
        "### What Ray and HTTP add per hop, 8 clients\n\n"
        + sweep_report.overhead_table(measured, profiles, 8),
        "### One client: what the path adds to the stages\n\n"
        + sweep_report.latency_table(measured, profiles),
        "### Stages by size\n\n" + sweep_report.profile_table(profiles),
        "### A GPU node's CPUs\n\n" + sweep_report.gpu_node_table(measured, forward_ms, 8),
        sweep_report.failures_note(failed),
    ]
    return "\n\n".join(p for p in parts if p)


if __name__ == "__main__":
    main()
