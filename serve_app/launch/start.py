"""``rfserve start`` and ``rfserve env``: serve a config as ``serve run`` would, on the
fast path.

``serve run CONFIG`` cannot set what Ray Serve reads at start-up, nor how Ray itself
starts; ``start`` sets Serve's speed settings in the environment (see
:mod:`serve_app.launch.environment`), starts a local Ray without the dashboard unless
asked, then hands over to ``serve run`` itself, so every field of the YAML means what
it means there. ``env`` prints those settings for a plain ``serve run``.

A config that cannot serve is refused in one line before Ray starts: a missing file,
a file that is not YAML, or YAML that is not a Serve config.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from serve_app.launch.arguments import Commands, fail
from serve_app.launch.environment import apply_fast_path
from serve_app.launch.supervisor import run_supervised

EDGE_OBJECT_STORE_BYTES = 100 * 2**20
"""Hops carry images inline (gRPC), so the object store holds little: 100 MiB, where
Ray's default is 30 % of the machine's memory."""

EDGE_HELP = (
    "trim Ray for a small device: no HAProxy (Serve's own proxy answers), no idle "
    f"workers, a {EDGE_OBJECT_STORE_BYTES // 2**20} MiB object store; models cached "
    "in ~/.cache/rfserve unless MODEL_CACHE_DIR is set"
)


def add_parsers(commands: Commands) -> None:
    start = commands.add_parser(
        "start",
        help="start Ray and serve a config YAML",
        description="Start Ray here (or join a cluster) and serve a Ray Serve config, as "
        "`serve run CONFIG` does, with Ray Serve's speed settings applied.",
    )
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
    start.add_argument("--edge", action="store_true", help=EDGE_HELP)
    start.add_argument(
        "--metrics-export-port",
        type=int,
        default=8080,
        help="port of this node's Prometheus endpoint (GET /metrics), for the Ray started here",
    )
    start.set_defaults(run=run_start)
    env = commands.add_parser(
        "env",
        help="print the fast-path settings as shell exports",
        description='Print Ray Serve\'s speed settings as shell exports: eval "$(rfserve env)" '
        "before a plain `serve run`.",
    )
    env.add_argument("--edge", action="store_true", help=EDGE_HELP)
    env.set_defaults(run=run_env)


def run_env(args: argparse.Namespace) -> int:
    settings = apply_fast_path(os.environ, edge=args.edge)
    print("\n".join(f"export {name}={value}" for name, value in settings.items()))
    return 0


def run_start(args: argparse.Namespace) -> int:
    apply_fast_path(os.environ, edge=args.edge)
    problem = config_problem(args.config)
    if problem is not None:
        return fail("rfserve start", problem)
    return run_supervised(lambda: serve(args))


def serve(args: argparse.Namespace) -> None:
    """The server itself, in the supervised child: Ray started here (or joined), then
    ``serve run`` until a stop."""
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


def config_problem(config: str) -> str | None:
    """Why ``serve run`` could not serve ``config``, in one line; None if it can.

    ``serve run`` reads an existing file as a config and anything else as an import
    path (``module:app``), so a mistyped file name would otherwise fail after Ray has
    started, as a missing module."""
    path = Path(config)
    if path.is_dir():
        return f"{config} is a folder, not a config file"
    if not path.is_file():
        if ":" in config and not config.endswith((".yaml", ".yml")):
            return None  # an import path, which serve run imports itself
        return f"{config} does not exist"
    import yaml

    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        return f"{config} cannot be read: {exc}"
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        return f"{config} is not YAML{line}: {getattr(exc, 'problem', None) or exc}"
    if not isinstance(document, dict) or "applications" not in document:
        return f"{config} is not a Ray Serve config: it has no 'applications' list"
    return _schema_problem(config, document)


def _schema_problem(config: str, document: dict[str, object]) -> str | None:
    """The first error of Ray Serve's own schema check, or an application whose
    ``import_path`` names a module that cannot be found."""
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    try:
        schema = ServeDeploySchema.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{config} is not a valid Ray Serve config: {where}: {first['msg']}"
    for app in schema.applications:
        module = app.import_path.replace(":", ".").rsplit(".", 1)[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # a parent package is missing
            found = False
        if not found:
            return (
                f"{config}: application {app.name!r} imports {app.import_path!r}, "
                f"but there is no module {module!r}"
            )
    return None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second signal (a cgroup kill sends its own besides the supervisor's) must
    # not interrupt Serve's shutdown; the supervisor decides when waiting is over.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    raise KeyboardInterrupt


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler, not SIG_IGN: processes started meanwhile keep the default action."""
