"""Typed configuration: environment settings and the application config."""

from serve_app.config.app_config import (
    AppConfig,
    AutoscalingConfig,
    BatchingConfig,
    Composition,
    DeploymentConfig,
    GroupingConfig,
    PreprocessingDeploymentConfig,
)
from serve_app.config.settings import ServerSettings

__all__ = [
    "AppConfig",
    "AutoscalingConfig",
    "BatchingConfig",
    "Composition",
    "DeploymentConfig",
    "GroupingConfig",
    "PreprocessingDeploymentConfig",
    "ServerSettings",
]
