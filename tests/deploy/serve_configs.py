"""What every serve config must satisfy, whether a file in ``configs/`` or the
``serveConfigV2`` embedded in a RayService."""

from __future__ import annotations

import importlib
from typing import Any

from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
from ray.serve.schema import ServeDeploySchema

from serve_app.config import AppConfig, DeploymentConfig


def check_serve_config(config: dict[str, Any]) -> None:
    """Valid for Ray Serve and for :class:`AppConfig`, and each application builds."""
    ServeDeploySchema.model_validate(config)
    assert config["http_options"]["port"] == 9001, "the Roboflow server's port"
    for application in config["applications"]:
        module, _, name = application["import_path"].partition(":")
        builder = getattr(importlib.import_module(module), name)
        # As Serve calls it: a builder must take the args and nothing else.
        app = call_user_app_builder_with_args_if_necessary(builder, application.get("args", {}))
        assert isinstance(app, Application)


def deployments(args: dict[str, Any]) -> dict[str, DeploymentConfig]:
    """The deployments an application's ``args`` start, by name."""
    config = AppConfig.model_validate(args)
    if config.composition == "fused":
        return {"model": config.model}
    return {"ingress": config.ingress, "preprocessing": config.preprocessing, "model": config.model}
