"""Every environment variable the server reads or sets is declared once, in
``config/settings.py``, and the README's tables of them are written from there; every
config field is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from serve_app.config import (
    AppConfig,
    AutoscalingConfig,
    BatchingConfig,
    DeploymentConfig,
    GroupingConfig,
    PreprocessingDeploymentConfig,
    ServerSettings,
)
from serve_app.config.settings import ENVIRONMENT
from serve_app.core.engines import EngineOptions
from serve_app.launch.environment import EDGE, FAST_PATH
from tools import render_settings

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "README.md").read_text()
DECLARED = {str(f.validation_alias) for f in ServerSettings.model_fields.values()} | {
    v.name for v in ENVIRONMENT
}
_VARIABLE = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_ENVIRONS = ("environ", "os.environ")


def test_the_readme_tables_are_written_from_the_declarations() -> None:
    problems = render_settings.differences()
    assert not problems, "run `python -m tools.render_settings`:\n" + "".join(problems)


def test_every_setting_has_a_meaning_and_a_variable_of_its_own() -> None:
    fields = ServerSettings.model_fields.values()
    assert all(field.description for field in fields)
    aliases = [str(field.validation_alias) for field in fields]
    assert len(set(aliases)) == len(aliases) == len(fields)
    assert len({v.name for v in ENVIRONMENT}) == len(ENVIRONMENT)


def test_what_rfserve_start_sets_is_declared() -> None:
    assert set(FAST_PATH) | set(EDGE) <= DECLARED


def variables_read_in(path: Path) -> set[str]:
    """Names of variables ``path`` reads or writes in an environment mapping:
    ``environ.get("X")``, ``os.getenv("X")``, ``environ["X"]``, ``setdefault("X", ...)``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            is_environment = node.func.attr in ("getenv", "putenv") or (
                node.func.attr in ("get", "setdefault", "pop")
                and ast.unparse(node.func.value) in _ENVIRONS
            )
            arguments = node.args[:1] if is_environment else []
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in _ENVIRONS:
            arguments = [node.slice]
        else:
            continue
        found |= {a.value for a in arguments if isinstance(a, ast.Constant)}
    return {name for name in found if isinstance(name, str) and _VARIABLE.match(name)}


def test_every_variable_the_code_reads_is_declared() -> None:
    read = {
        name: path
        for path in (ROOT / "serve_app").rglob("*.py")
        for name in variables_read_in(path)
    }
    assert {"HOME", "XDG_CACHE_HOME"} <= set(read), "the scan must see what it looks for"
    assert {name: str(path) for name, path in read.items() if name not in DECLARED} == {}


@pytest.mark.parametrize(
    ("model", "prefix"),
    [(AppConfig, ""), (BatchingConfig, "batching."), (EngineOptions, "engine."),
     (GroupingConfig, "grouping."), (DeploymentConfig, ""),
     (AutoscalingConfig, "autoscaling."),
     (PreprocessingDeploymentConfig, "preprocessing.")],
)  # fmt: skip
def test_every_config_field_is_documented(model: type[BaseModel], prefix: str) -> None:
    own_fields = vars(model).get("__annotations__", {})  # not those of a base class
    assert own_fields
    for name in own_fields:
        assert f"| `{prefix}{name}" in DOC, name  # nested configs: one row per field
