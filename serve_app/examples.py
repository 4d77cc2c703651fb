"""The example image shipped with the package (package data, so an installed server
has it): what the README's curl, the page's "example image" and ``rfserve bench``
send when given nothing else. Three shapes the bundled models find."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_IMAGE = Path(__file__).resolve().parent / "assets" / "examples" / "shapes.jpg"
