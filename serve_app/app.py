"""The application builder, the one composition root: the ``import_path`` of every
config (``serve_app.app:build_app``).

It validates one :class:`AppConfig` and gives each stage a small frozen config of what
that stage uses and nothing else (built here from the settings, once, so every node
serves with the same values), then binds the deployments of the chosen composition,
each with its config and, by keyword, a handle to each deployment it calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from ray.serve import Application

from serve_app.api.config import IngressConfig
from serve_app.api.ingress import Ingress
from serve_app.api.policy import IngressPolicy
from serve_app.batching import GroupLimits
from serve_app.config import AppConfig, ServerSettings
from serve_app.config.settings import ENVIRONMENT_BY_NAME
from serve_app.core.engines import EngineOptions
from serve_app.engines.factory import EngineFactory, OnnxEngineFactory
from serve_app.fused import FusedConfig, FusedIngress
from serve_app.preprocessing.config import PreprocessConfig
from serve_app.preprocessing.deployment import Preprocessor
from serve_app.preprocessing.image_loading import ImageLimits
from serve_app.preprocessing.url_fetch import UrlFetchPolicy
from serve_app.registry import ModelRegistry, RegistryConfig
from serve_app.replica.config import ModelReplicaConfig
from serve_app.replica.deployment import ModelReplica
from serve_app.weight_settings import weight_sources


@dataclass(frozen=True)
class StageConfigs:
    ingress: IngressConfig
    preprocessing: PreprocessConfig
    model: ModelReplicaConfig
    registry: RegistryConfig


def build_app(args: dict[str, Any] | AppConfig | None = None) -> Application:
    """Build the serving graph from one typed config. ``serve run configs/local.yaml``
    passes the YAML ``args`` here; so does KubeRay's ``serveConfigV2`` (Serve calls a
    builder with that one argument)."""
    config = args if isinstance(args, AppConfig) else AppConfig.model_validate(args or {})
    return build_graph(config)


def build_graph(config: AppConfig, engines: EngineFactory | None = None) -> Application:
    """The deployments of ``config``'s composition, bound; a model registry beside them
    tracks which replica holds which model (inside the replica, where a fused
    composition has exactly one).

    ``composition: split`` (the default) is ingress → preprocessing → model, each
    scaled on its own; ``fused`` runs the same stages in one deployment. ``engines``
    replaces the engine factory the ``engine`` config describes: tests run the real
    graph on a fake one.
    """
    stages = stage_configs(config, engines)
    decoding = image_decoder_environment(config.settings)
    if config.composition == "fused":
        fused = FusedConfig(stages.ingress, stages.preprocessing, stages.model, stages.registry)
        return FusedIngress.options(**config.model.ray_options(decoding)).bind(
            fused,
            registry=None if one_fused_replica(config) else ModelRegistry.bind(stages.registry),
        )
    registry = ModelRegistry.bind(stages.registry)
    model = ModelReplica.options(**config.model.ray_options()).bind(stages.model, registry=registry)
    preprocessor = Preprocessor.options(**config.preprocessing.ray_options(decoding)).bind(
        stages.preprocessing, model=model
    )
    return Ingress.options(**config.ingress.ray_options()).bind(
        stages.ingress, preprocessor=preprocessor, model=model, registry=registry
    )


def stage_configs(config: AppConfig, engines: EngineFactory | None = None) -> StageConfigs:
    """What each stage is given, from the validated config."""
    settings = config.settings
    batching = GroupLimits(config.batching.max_batch_size, config.batching.max_in_flight)
    return StageConfigs(
        ingress=IngressConfig(
            ingress_policy(settings),
            GroupLimits(config.grouping.max_images, config.grouping.max_in_flight),
        ),
        preprocessing=PreprocessConfig(image_limits(settings), config.preprocessing.threads),
        model=ModelReplicaConfig(
            weights=weight_sources(settings),
            engines=engines or OnnxEngineFactory(engine_options(config), batching.max_size),
            batching=batching,
            model_memory_mb=settings.model_memory_mb,
            max_active_models=settings.max_active_models,
            preload=tuple(settings.preload_models),
        ),
        registry=RegistryConfig(tuple(settings.preload_models)),
    )


def one_fused_replica(config: AppConfig) -> bool:
    """The whole server is one replica: the fused composition, not scaled."""
    model = config.model
    return config.composition == "fused" and model.num_replicas == 1 and model.autoscaling is None


def engine_options(config: AppConfig) -> EngineOptions:
    """The ``engine`` config, with the threads of a lone forward pass chosen from the
    model replicas' layout where it leaves them to the builder: every core of the node
    where one fused replica is the whole server, else the CPUs a replica reserves,
    rounded up. Replicas that share a node by their ``num_cpus`` would otherwise take
    each other's cores whenever both are idle at once."""
    engine = config.engine
    if engine.lone_threads is not None:
        return engine
    chosen: int | Literal["all"] = (
        "all" if one_fused_replica(config) else math.ceil(config.model.num_cpus)
    )
    return replace(engine, lone_threads=chosen)


def image_decoder_environment(settings: ServerSettings) -> dict[str, str]:
    """Environment of the replicas that decode images: OpenCV's own pixel limit, which
    it reads once when it loads, set to ours, for the formats whose header is not read
    before decoding (``preprocessing/image_loading.py``)."""
    opencv_limit = ENVIRONMENT_BY_NAME["OPENCV_IO_MAX_IMAGE_PIXELS"]
    return {opencv_limit.name: str(settings.max_image_pixels)}


def ingress_policy(settings: ServerSettings) -> IngressPolicy:
    return IngressPolicy(
        max_body_bytes=settings.max_body_bytes,
        max_images_per_request=settings.max_images_per_request,
        accepted_keys=tuple(key.get_secret_value() for key in settings.api_keys),
    )


def image_limits(settings: ServerSettings) -> ImageLimits:
    return ImageLimits(
        allow_pickled_numpy=settings.allow_pickled_numpy,
        max_pixels=settings.max_image_pixels,
        url=UrlFetchPolicy(
            enabled=settings.allow_url_input,
            allow=tuple(settings.url_allow_networks),
            max_bytes=settings.url_max_bytes,
            timeout_s=settings.url_timeout_s,
            max_redirects=settings.url_max_redirects,
        ),
        scaled_jpeg_decode=settings.scaled_jpeg_decode,
    )
