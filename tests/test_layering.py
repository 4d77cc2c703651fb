"""Each deployment imports what its stage needs and no more: the ingress of the split
graph names tasks and parses model ids without loading image, network or cloud
libraries (they would cost every ingress replica memory and start-up time); and every
import under serve_app/ follows the README's table of which folder may import which,
with no loops between folders or between files."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("cv2", "onnx", "onnxruntime", "boto3", "botocore", "torch")


@pytest.mark.parametrize("module", ["serve_app.core.requests", "serve_app.api.ingress"])
def test_light_modules_import_no_heavy_library(module: str) -> None:
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# --- which folder may import which ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "serve_app"
LAYERS_HEADING = "### Which folder may import which"
_CELL = re.compile(r"`([^`]+)`")


def unit_of(module: str) -> str:
    """``serve_app.replica.host`` → ``replica``; ``serve_app.app`` → ``app``;
    ``serve_app`` → ``__init__``: the rows of the README's table."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def allowed_imports() -> dict[str, set[str]]:
    """The README's table: each folder or file, and what it may import."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(LAYERS_HEADING, 1)[1].split("\n#", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names, imports = line.split("|")[1:3]
        for name in _CELL.findall(names):
            table[name.removesuffix("/").removesuffix(".py")] = set(_CELL.findall(imports))
    return table


def modules() -> dict[str, Path]:
    """Every module under serve_app, by dotted name (a package by its __init__.py)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The serve_app modules ``path`` imports anywhere in it: at the top, inside
    functions, under ``TYPE_CHECKING``. ``from a import b`` imports ``a.b`` where that is
    a module, else ``a``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        else:
            continue
        for name in names:
            while name.startswith("serve_app") and name not in known:
                name = name.rsplit(".", 1)[0]
            if name in known:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            if component:
                found.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_table_names_every_folder_and_file_of_the_package() -> None:
    table = allowed_imports()
    units = {unit_of(name) for name in modules()}
    assert units == set(table), "rows missing or stale in the README's import table"
    for allowed in table.values():
        assert allowed <= units


def test_every_import_follows_the_table() -> None:
    table = allowed_imports()
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if unit_of(target) != unit_of(module) and unit_of(target) not in table[unit_of(module)]
    )
    assert not wrong, "\n".join(wrong)


def test_no_folders_import_each_other_in_a_loop() -> None:
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        graph.setdefault(unit_of(module), set()).update(
            unit_of(t) for t in targets if unit_of(t) != unit_of(module)
        )
    assert cycles(graph) == []


def test_no_files_import_each_other_in_a_loop() -> None:
    assert cycles(import_graph()) == []


def test_the_checks_see_a_cycle_and_an_import_inside_a_function(tmp_path: Path) -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from serve_app.core import ids\n"
        "def f():\n    import serve_app.weights.store\n"
    )
    known = {"serve_app.core": Path(), "serve_app.core.ids": Path(), "serve_app.weights": Path()}
    assert imports_of(source, known) == {"serve_app.core.ids", "serve_app.weights"}
