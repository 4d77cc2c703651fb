"""The requirements ``pyproject.toml`` declares, one per line, for ``pip install -r``:

    python requirements.py pyproject.toml [EXTRA...]

The images install these in a layer of their own, before the code is copied in, so the
layer changes only when ``pyproject.toml`` does. Runs with any of the images'
Pythons: 3.11 has ``tomllib``; on 3.10 (Jetson's Ubuntu) pip's own copy of it serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"{pyproject} has no extra {', '.join(unknown)}")
    return [*project["dependencies"], *(r for extra in extras for r in optional[extra])]


if __name__ == "__main__":
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2:])))
