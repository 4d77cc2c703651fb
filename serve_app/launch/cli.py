"""The ``rfserve`` command: parses the command line and hands over to the command's
module. Only ``start`` imports Ray; ``infer``, ``bench`` and ``models`` start in a
fraction of a second and run where Ray is not installed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from serve_app import __version__
from serve_app.launch import bench, infer, models, start
from serve_app.launch.arguments import CommandParser

EXAMPLES = """\
examples:
  rfserve start configs/local.yaml                    one machine, port 9001 (Ctrl-C stops)
  rfserve start configs/cluster-cpu.yaml --address auto   on a running Ray cluster
  rfserve start configs/edge.yaml --edge              a small device: Ray trimmed
  eval "$(rfserve env)"                               the same settings for `serve run`
  rfserve infer -i image.jpg -m shapes-detection/1    one JSON line per image
  rfserve models pull my-project/3                    fill MODEL_CACHE_DIR, no server
  rfserve bench -m shapes-detection/1 -c 8            images/s and latency at 8 clients

Run `rfserve COMMAND --help` for a command's options."""


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="rfserve",
        description="A Roboflow-compatible inference server on Ray Serve: start it, send "
        "it images, fill its model cache, load-test it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rfserve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start.add_parsers(commands)
    infer.add_parsers(commands)
    models.add_parsers(commands)
    bench.add_parsers(commands)
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sys.exit(args.run(args))


if __name__ == "__main__":
    main()
