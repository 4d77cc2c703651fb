"""The README's configuration section names every environment variable and config field."""

from __future__ import annotations

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
from serve_app.core.engines import EngineOptions

DOC = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(ServerSettings.model_fields))
def test_every_setting_is_documented_with_its_variable(name: str) -> None:
    alias = ServerSettings.model_fields[name].validation_alias
    assert f"| `{alias}` | `{name}` |" in DOC


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
