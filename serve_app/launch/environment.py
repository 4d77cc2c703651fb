"""Ray Serve's speed settings, which it reads from the environment when Ray and Serve
start (each process reads them once, at import), never from a config file.

Which variables, their values and why are declared with every other variable the
server uses, in ``serve_app/config/settings.py`` (:data:`ENVIRONMENT`); each was
measured on the bundled detector (bench/README.md) and kept because it helps. Values
already in the environment win: an operator can turn any of them off. :data:`EDGE`
trims the same start for one small device, where memory counts more than the last
images per second (README, Edge mode).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path

from serve_app.config.settings import ENVIRONMENT, ServerSettings

FAST_PATH: dict[str, str] = {v.name: v.start for v in ENVIRONMENT if v.start is not None}
"""What ``rfserve start`` sets."""
EDGE: dict[str, str] = {v.name: v.edge for v in ENVIRONMENT if v.edge is not None}
"""What ``rfserve start --edge`` sets instead, or besides."""

_MODEL_CACHE_DIR = str(ServerSettings.model_fields["model_cache_dir"].validation_alias)


def edge_cache_dir(environ: Mapping[str, str]) -> str:
    """Where a device keeps models and built engines across reboots, unless
    ``MODEL_CACHE_DIR`` says: the user's cache folder, not ``/tmp`` (often a tmpfs,
    or cleared at boot), so a restart neither downloads nor builds again."""
    home = environ.get("HOME", str(Path.home()))
    return str(Path(environ.get("XDG_CACHE_HOME", f"{home}/.cache")) / "rfserve")


def apply_fast_path(environ: MutableMapping[str, str], edge: bool = False) -> dict[str, str]:
    """Set every :data:`FAST_PATH` variable (and :data:`EDGE` one, and the edge model
    cache, for ``edge``) ``environ`` lacks; returns what applies."""
    wanted = {**FAST_PATH}
    if edge:
        wanted |= {**EDGE, _MODEL_CACHE_DIR: edge_cache_dir(environ)}
    for name, value in wanted.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in wanted}
