"""Throughput with many models in use: 1, 4 and 16 copies of one model, each request
to the next copy, all loaded before timing.

    python -m bench.models_sweep --compare-url http://127.0.0.1:9101 \\
        --peer-models-dir /tmp/peer-models --out bench/results/models-320

The copies (``{dataset}-copy{k}/{version}``, the same weights under new ids) go into a
scratch folder our servers read (``RFSERVE_LOCAL_MODELS_DIR``) and, with
``--peer-models-dir``, into the folder ``../shared/peer``'s stand-in Roboflow API
serves. Each server (``bench/sweep.py``) gets every count in turn at 8 clients, one
640x480 frame per request; before each, three rounds of requests to every copy load
them all (on every replica, where the layout does not route by model).
Our servers also report, over each point, the models each replica loaded and evicted
(their Prometheus counters): a replica that holds fewer models than it is sent loads
one on (nearly) every request.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench import sweep, sweep_report
from bench.launch import REPO
from bench.photos import PHOTO_CACHE, SIZES, photo_files
from bench.report import machine_info

BUNDLED = REPO / "serve_app" / "assets" / "models"
WARM_ROUNDS = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.models_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", default="shapes-detection/1")
    parser.add_argument("--models-dir", type=Path, help="where --model's package is")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size", default="640x480", choices=sorted(SIZES))
    parser.add_argument("--images", type=int, default=8, help="distinct frames")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="each round of requests visits the models in a random order, not in turn",
    )
    parser.add_argument(
        "--peer-models-dir", type=Path, help="also lay the copies out here for Roboflow's server"
    )
    sweep.add_server_arguments(parser)
    return parser.parse_args(argv)


def copy_ids(model_id: str, count: int) -> list[str]:
    dataset, version = model_id.split("/")
    return [f"{dataset}-copy{k}/{version}" for k in range(count)]


def lay_out_copies(
    model_id: str, source: Path, count: int, out: Path, peer: Path | None
) -> list[str]:
    ids = copy_ids(model_id, count)
    package = source / model_id
    for copy in ids:
        target = out / copy
        if not target.exists():
            shutil.copytree(package, target)
    if peer is not None:
        from bench.peer_models import write_peer_model
        from serve_app.core.ids import ModelId
        from serve_app.weights.package import read_package

        for copy in ids:
            write_peer_model(read_package(ModelId.parse(copy), out / copy), peer)
    return ids


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    files = photo_files(SIZES[args.size], args.images, args.jpeg_quality, PHOTO_CACHE)
    images = [base64.b64encode(f).decode() for f in files]
    with tempfile.TemporaryDirectory(prefix="models-sweep-") as workdir:
        models_dir = Path(workdir) / "models"
        source = args.models_dir or BUNDLED
        ids = lay_out_copies(args.model, source, max(args.counts), models_dir, args.peer_models_dir)

        def run(server: sweep.Server, measured: list[sweep.Measured]) -> None:
            api_key = None if server.ours else args.compare_api_key
            for count in sorted(args.counts):
                pairs = sweep.interleave(ids[:count], images, 1 if args.shuffle else None)
                bodies = sweep.request_bodies(pairs, api_key)
                # Several rounds: HAProxy spreads them, so each replica of a layout
                # without model routing (fused) sees every model before timing.
                sweep.warm(server, bodies[:count] * WARM_ROUNDS)
                sweep.settle(server, args)
                measured.append(sweep.measure(server, str(count), bodies, args.clients, args))

        measured, failed = sweep.run_servers(args, ids[:1], models_dir, Path(workdir), run)
    record = {
        "model": args.model,
        "machine": machine_info(),
        "clients": args.clients,
        "size": args.size,
        "shuffle": args.shuffle,
        "busy": args.busy,
        "points": [asdict(p) for p in measured],
        "failed": failed,
    }
    text = (
        f"Model `{args.model}` in {', '.join(map(str, args.counts))} copies, "
        f"{args.clients} clients, {args.size} frames, models "
        f"{'in a random order' if args.shuffle else 'in turn'}; load average "
        f"{record['machine']['load_average_at_start']:.2f} at start."  # type: ignore[index]
        + sweep.busy_note(args)
        + "\n\n"
        + sweep_report.models_table(measured)
        + "\n\n### CPU by process\n\n"
        + sweep_report.roles_table(measured, args.clients)
        + "\n\n"
        + sweep_report.failures_note(failed)
    )
    title = f"{args.model}, {args.clients} clients"
    sweep_report.write_outputs(
        args.out, record, text, lambda png: sweep_report.plot_models(measured, title, png)
    )
    return record


if __name__ == "__main__":
    main()
