"""``rfserve``: start the server as ``serve run`` would, on the fast path.

    rfserve start configs/local.yaml     # start Ray here and serve the config
    rfserve start configs/local.yaml --address auto   # on a running Ray cluster
    rfserve start configs/edge.yaml --edge          # a small device: Ray trimmed
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
from serve_app.launch.supervisor import run_supervised

EDGE_OBJECT_STORE_BYTES = 100 * 2**20
"""Hops carry images inline (gRPC), so the object store holds little: 100 MiB, where
Ray's default is 30 % of the machine's memory."""


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
    edge_help = (
        "trim Ray for a small device: no HAProxy (Serve's own proxy answers), no idle "
        f"workers, a {EDGE_OBJECT_STORE_BYTES // 2**20} MiB object store; models cached "
        "in ~/.cache/rfserve unless MODEL_CACHE_DIR is set"
    )
    start.add_argument("--edge", action="store_true", help=edge_help)
    start.add_argument(
        "--metrics-export-port",
        type=int,
        default=8080,
        help="port of this node's Prometheus endpoint (GET /metrics), for the Ray started here",
    )
    env = commands.add_parser("env", help="print the fast-path settings as shell exports")
    env.add_argument("--edge", action="store_true", help=edge_help)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = apply_fast_path(os.environ, edge=args.edge)
    if args.command == "env":
        print("\n".join(f"export {name}={value}" for name, value in settings.items()))
        return
    sys.exit(run_supervised(lambda: start(args)))


def start(args: argparse.Namespace) -> None:
    # Imported only now: Ray Serve reads its settings when it is first imported.
    import ray
    from ray.serve.scripts import run

    if args.address is None:
        ray.init(
            namespace="serve",
            include_dashboard=args.dashboard,
            num_cpus=args.num_cpus,
            object_store_memory=args.object_store_memory
            or (EDGE_OBJECT_STORE_BYTES if args.edge else None),
            _metrics_export_port=args.metrics_export_port,
        )
    # `serve run` shuts Serve down on Ctrl-C; the supervisor forwards every stop as
    # SIGTERM (serve_app.launch.supervisor).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    serve_args = [args.config] + (["--address", args.address] if args.address else [])
    sys.exit(run.main(serve_args, prog_name="rfserve start", standalone_mode=False))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second signal (a cgroup kill sends its own besides the supervisor's) must
    # not interrupt Serve's shutdown; the supervisor decides when waiting is over.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    raise KeyboardInterrupt


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler, not SIG_IGN: processes started meanwhile keep the default action."""


if __name__ == "__main__":
    main()
