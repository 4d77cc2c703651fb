"""Write the README's tables of environment variables from their declarations.

    python -m tools.render_settings            # rewrite the tables in README.md
    python -m tools.render_settings --check    # exit 1 where README.md differs

Every variable the server reads or sets is declared once, with its default and
meaning, in ``serve_app/config/settings.py``: the server's own settings
(``ServerSettings``) and the variables of Ray, Serve and libraries (``ENVIRONMENT``).
Each table sits between two markers in the README, ``<!-- settings: NAME -->`` and
``<!-- end settings: NAME -->``, and is replaced whole.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from serve_app.config.settings import ENVIRONMENT, ServerSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def shown_default(value: Any) -> str:
    """A default as the README writes it."""
    if value is None:
        return "unset"
    if value in ("", []):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| Environment variable | Field | Default | Meaning |", "|---|---|---|---|"]
    for name, field in ServerSettings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = field.default
        if default is PydanticUndefined and field.default_factory is not None:
            default = field.default_factory()  # type: ignore[call-arg]
        shown = str(extra.get("shown_default") or shown_default(default))
        if note := extra.get("default_note"):
            shown += f" ({note})"
        rows.append(f"| `{field.validation_alias}` | `{name}` | {shown} | {field.description} |")
    return "\n".join(rows)


def environment_table() -> str:
    rows = ["| Variable | `rfserve start` | `--edge` | Meaning |", "|---|---|---|---|"]
    for variable in ENVIRONMENT:
        start = f"`{variable.start}`" if variable.start is not None else "-"
        edge = f"`{variable.edge}`" if variable.edge is not None else "-"
        rows.append(f"| `{variable.name}` | {start} | {edge} | {variable.meaning} |")
    return "\n".join(rows)


TABLES = {"server": settings_table, "environment": environment_table}


def render(text: str) -> str:
    """``text`` with every marked table written anew."""
    for name, table in TABLES.items():
        begin, end = f"<!-- settings: {name} -->", f"<!-- end settings: {name} -->"
        if begin not in text or end not in text:
            raise SystemExit(f"README.md lacks the markers of the {name!r} table")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{table()}\n{end}{tail}"
    return text


def differences(readme: Path = README) -> list[str]:
    current = readme.read_text()
    return list(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            render(current).splitlines(keepends=True),
            "README.md",
            "rendered",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        sys.stdout.writelines(problems)
        return 1 if problems else 0
    README.write_text(render(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
