"""Application builder: the ``import_path`` of every config (``serve_app.app:build_app``)."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from serve_app.api.fused_ingress import FusedIngress
from serve_app.api.ingress import Ingress
from serve_app.api.policy import IngressPolicy
from serve_app.config import AppConfig
from serve_app.preprocessing.deployment import Preprocessor
from serve_app.preprocessing.image_loading import LoadPolicy, image_decoder_environment
from serve_app.registry import ModelRegistry
from serve_app.replica.deployment import ModelReplica


def build_app(args: dict[str, Any] | AppConfig | None = None) -> Application:
    """Build the serving graph from one typed config; a model registry beside it tracks
    which replica holds which model (inside the replica, where a fused composition has
    exactly one).

    ``composition: split`` (the default) is ingress → preprocessing → model, each
    scaled on its own; ``fused`` runs the same stages in one deployment. ``serve run
    configs/local.yaml`` passes the YAML ``args`` here; so does KubeRay's
    ``serveConfigV2``. Environment settings are resolved now, once, and handed to the
    replicas, so every node serves with the same values.
    """
    config = args if isinstance(args, AppConfig) else AppConfig.model_validate(args or {})
    settings = config.settings
    registry = ModelRegistry.bind(settings.preload_models)
    policy = IngressPolicy.from_settings(settings)
    decoder_env = image_decoder_environment(settings)
    if config.composition == "fused":
        alone = config.model.num_replicas == 1 and config.model.autoscaling is None
        return FusedIngress.options(**config.model.ray_options(decoder_env)).bind(
            settings,
            config.engine,
            config.batching,
            config.grouping,
            config.preprocessing.threads,
            None if alone else registry,
            policy,
        )
    model = ModelReplica.options(**config.model.ray_options()).bind(
        settings, config.engine, config.batching, registry
    )
    preprocessor = Preprocessor.options(**config.preprocessing.ray_options(decoder_env)).bind(
        LoadPolicy.from_settings(settings), config.preprocessing.threads, model
    )
    return Ingress.options(**config.ingress.ray_options()).bind(
        preprocessor, model, registry, config.grouping, policy
    )
