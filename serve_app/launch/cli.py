"""``rfserve``: start the server as ``serve run`` would, on the fast path.

    rfserve start configs/local.yaml     # start Ray here and serve the config
    rfserve start configs/local.yaml --address auto   # on a running Ray cluster
    eval "$(rfserve env)"                # the same settings for a plain `serve run`

``serve run CONFIG`` cannot set what Ray Serve reads at start-up, nor how Ray itself
starts; this command sets Serve's speed settings in the environment (see
:mod:`serve_app.launch.environment`), starts a local Ray without the dashboard unless
asked, then hands over to ``serve run`` itself, so every field of the YAML means what
it means there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from serve_app.launch.environment import apply_fast_path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfserve", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start Ray and serve a config YAML")
    start.add_argument("config", help="serve config YAML, e.g. configs/local.yaml")
    start.add_argument(
        "--address",
        help="join this Ray cluster ('auto' for the local one) instead of starting Ray here",
    )
    start.add_argument(
        "--dashboard", action="store_true", help="also start Ray's dashboard (port 8265)"
    )
    start.add_argument("--num-cpus", type=float, help="logical CPUs of the Ray started here")
    start.add_argument(
        "--object-store-memory", type=int, help="bytes of Ray's shared object store here"
    )
    start.add_argument(
        "--metrics-export-port",
        type=int,
        default=8080,
        help="port of this node's Prometheus endpoint (GET /metrics), for the Ray started here",
    )
    commands.add_parser("env", help="print the fast-path settings as shell exports")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = apply_fast_path(os.environ)
    if args.command == "env":
        print("\n".join(f"export {name}={value}" for name, value in settings.items()))
        return
    start(args)


def start(args: argparse.Namespace) -> None:
    # Imported only now: Ray Serve reads its settings when it is first imported.
    import ray
    from ray.serve.scripts import run

    if args.address is None:
        ray.init(
            namespace="serve",
            include_dashboard=args.dashboard,
            num_cpus=args.num_cpus,
            object_store_memory=args.object_store_memory,
            _metrics_export_port=args.metrics_export_port,
        )
    # `serve run` shuts Serve down on Ctrl-C; `docker stop` and Kubernetes send SIGTERM.
    signal.signal(signal.SIGTERM, _interrupt)
    serve_args = [args.config] + (["--address", args.address] if args.address else [])
    sys.exit(run.main(serve_args, prog_name="rfserve start", standalone_mode=False))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
