"""Application builder: the ``import_path`` of every config (``serve_app.app:build_app``)."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from serve_app.api.ingress import Ingress
from serve_app.config import AppConfig
from serve_app.preprocessing.deployment import Preprocessor
from serve_app.registry import ModelRegistry
from serve_app.replica.deployment import ModelReplica


def build_app(args: dict[str, Any] | AppConfig | None = None) -> Application:
    """Build the serving graph ingress → preprocessing → model from one typed config;
    a model registry beside them tracks which model replica holds which model.

    ``serve run configs/local.yaml`` passes the YAML ``args`` here; so does KubeRay's
    ``serveConfigV2``. Environment settings are resolved now, once, and handed to the
    replicas, so every node serves with the same values.
    """
    config = args if isinstance(args, AppConfig) else AppConfig.model_validate(args or {})
    settings = config.settings
    preprocessor = Preprocessor.options(**config.preprocessing.ray_options()).bind(settings)
    registry = ModelRegistry.bind(settings.preload_models)
    model = ModelReplica.options(**config.model.ray_options()).bind(
        settings, config.engine, config.batching, registry
    )
    return Ingress.options(**config.ingress.ray_options()).bind(preprocessor, model, registry)
