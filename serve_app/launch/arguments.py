"""What every ``rfserve`` command shares on its command line: one-line usage errors,
and the options of the commands that talk to a running server (``infer``, ``bench``),
named as Roboflow's ``inference`` command names them."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

Commands = argparse._SubParsersAction  # noqa: SLF001 - argparse's only name for it
"""What ``add_subparsers`` returns: each command module adds its parser to it."""

DEFAULT_HOST = "http://localhost:9001"


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, with where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(command: str, message: str) -> int:
    """Say why ``command`` cannot go on, in one line on stderr; the exit status."""
    print(f"{command}: {message}", file=sys.stderr)
    return 1


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``-h/--host`` and ``-a/--api-key`` as Roboflow's ``inference infer`` and
    ``inference benchmark api-speed`` take them, so a command line written for one
    server works against the other. ``-h`` is the host there, so help is ``--help``
    only; ``parser`` must be made with ``add_help=False``."""
    parser.add_argument(
        "--help", action="help", help="show this help (-h is the host, as in Roboflow's CLI)"
    )
    parser.add_argument(
        "-h",
        "--host",
        default=DEFAULT_HOST,
        help=f"server to send requests to, this one or Roboflow's (default {DEFAULT_HOST})",
    )
    parser.add_argument(
        "-a",
        "--api-key",
        default=os.environ.get("ROBOFLOW_API_KEY"),
        help="API key sent with each request (default: $ROBOFLOW_API_KEY, if set)",
    )
    parser.add_argument("-m", "--model_id", required=True, help="model to use, as dataset/version")
