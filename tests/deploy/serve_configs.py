"""What every serve config must satisfy, whether a file in ``configs/`` or the
``serveConfigV2`` embedded in a RayService."""

from __future__ import annotations

import importlib
from typing import Any

from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

from serve_app.config import AppConfig, DeploymentConfig


def check_serve_config(config: dict[str, Any]) -> None:
    """Valid for Ray Serve and for :class:`AppConfig`, and each application builds."""
    ServeDeploySchema.model_validate(config)
    assert config["http_options"]["port"] == 9001, "the Roboflow server's port"
    for application in config["applications"]:
        module, _, name = application["import_path"].partition(":")
        builder = getattr(importlib.import_module(module), name)
        assert isinstance(builder(application.get("args", {})), Application)


def deployments(args: dict[str, Any]) -> dict[str, DeploymentConfig]:
    """The deployments an application's ``args`` start, by name."""
    config = AppConfig.model_validate(args)
    if config.composition == "fused":
        return {"model": config.model}
    return {"ingress": config.ingress, "preprocessing": config.preprocessing, "model": config.model}
