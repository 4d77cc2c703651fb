"""The weight sources the settings name, as the weights stage's config: made here
alone, for the application builder (``serve_app/app.py``) and for ``rfserve models``,
which fills the same cache without a server, so both read the settings the same way.
Light: no Ray, no source client library."""

from __future__ import annotations

from pydantic import SecretStr

from serve_app.config import ServerSettings
from serve_app.weights.config import (
    BUNDLED_MODELS_DIR,
    RemoteSource,
    RoboflowConfig,
    S3Config,
    WeightSources,
)
from serve_app.weights.retry import RetryPolicy


def weight_sources(settings: ServerSettings) -> WeightSources:
    """The sources ``weight_sources`` names, in its order: ``local`` as the folders read
    in place, ``s3`` where a bucket is set, ``roboflow``."""
    local = "local" in settings.weight_sources
    extra = (settings.local_models_dir,) if settings.local_models_dir is not None else ()
    remote: list[RemoteSource] = []
    retry = RetryPolicy(settings.weights_retries, settings.weights_backoff_s)
    for name in settings.weight_sources:
        if name == "s3" and settings.s3_bucket is not None:
            remote.append(
                S3Config(
                    bucket=settings.s3_bucket,
                    prefix=settings.s3_prefix,
                    endpoint_url=settings.s3_endpoint_url,
                    region=settings.s3_region,
                    access_key_id=settings.s3_access_key_id,
                    secret_access_key=_secret(settings.s3_secret_access_key),
                    timeout_s=settings.weights_timeout_s,
                    retry=retry,
                )
            )
        elif name == "roboflow":
            remote.append(
                RoboflowConfig(
                    api_base_url=settings.api_base_url,
                    device_id=settings.device_id,
                    api_key=_secret(settings.roboflow_api_key),
                    timeout_s=settings.weights_timeout_s,
                    retry=retry,
                )
            )
    return WeightSources(
        cache_dir=settings.model_cache_dir,
        local_dirs=(*extra, BUNDLED_MODELS_DIR) if local else (),
        remote=tuple(remote),
    )


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
