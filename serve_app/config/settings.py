"""Server settings from the environment: the only place that reads ``os.environ``.

Names follow the Roboflow inference server where it has one (``MODEL_CACHE_DIR``,
``API_BASE_URL``, ``ROBOFLOW_API_KEY``, ``MAX_ACTIVE_MODELS``, ``PRELOAD_MODELS``), so
users can switch servers without relearning; settings of our own start with
``RFSERVE_``. Settings are resolved once, by the application builder, which gives each
stage the part it uses, so replicas on other nodes see the same values.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WeightSourceName = Literal["local", "s3", "roboflow"]
DEFAULT_WEIGHT_SOURCES: tuple[WeightSourceName, ...] = ("local", "s3", "roboflow")

CommaList = Annotated[list[str], NoDecode]


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    # The Roboflow server's default, so existing deployments keep their cache.
    model_cache_dir: Path = Field(Path("/tmp/cache"), validation_alias="MODEL_CACHE_DIR")  # noqa: S108
    """Where model packages live on disk: ``{dir}/{dataset}/{version}/``."""

    api_base_url: str = Field("https://api.roboflow.com", validation_alias="API_BASE_URL")
    roboflow_api_key: SecretStr | None = Field(None, validation_alias="ROBOFLOW_API_KEY")

    max_active_models: int = Field(8, ge=1, validation_alias="MAX_ACTIVE_MODELS")
    """Models held by each model replica before the least recently used is unloaded."""

    preload_models: CommaList = Field(default_factory=list, validation_alias="PRELOAD_MODELS")

    weight_sources: Annotated[list[WeightSourceName], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_WEIGHT_SOURCES),
        validation_alias="RFSERVE_WEIGHT_SOURCES",
    )
    """Order in which sources are asked for a model missing from the cache."""

    local_models_dir: Path | None = Field(None, validation_alias="RFSERVE_LOCAL_MODELS_DIR")
    """Extra read-only folder of model packages, searched before the bundled models."""

    device_id: str = Field(default_factory=socket.gethostname, validation_alias="DEVICE_ID")
    """Sent to the Roboflow API with every weights request, as the Roboflow server does."""

    s3_bucket: str | None = Field(None, validation_alias="RFSERVE_S3_BUCKET")
    """Bucket of the S3 weight source; the source is skipped while this is unset."""
    s3_prefix: str = Field("", validation_alias="RFSERVE_S3_PREFIX")
    """Key prefix: model ``d/v`` lives under ``s3://{bucket}/{prefix}/d/v/``."""
    s3_endpoint_url: str | None = Field(None, validation_alias="RFSERVE_S3_ENDPOINT_URL")
    """Endpoint of an S3-compatible store (MinIO, SeaweedFS, ...); unset means AWS."""
    s3_region: str | None = Field(None, validation_alias="RFSERVE_S3_REGION")
    s3_access_key_id: str | None = Field(None, validation_alias="RFSERVE_S3_ACCESS_KEY_ID")
    """With the secret below, overrides boto3's standard credential chain."""
    s3_secret_access_key: SecretStr | None = Field(
        None, validation_alias="RFSERVE_S3_SECRET_ACCESS_KEY"
    )

    weights_timeout_s: float = Field(30.0, gt=0, validation_alias="RFSERVE_WEIGHTS_TIMEOUT_S")
    """Connect and read timeout of each call to the Roboflow API or S3."""
    weights_retries: int = Field(3, ge=0, validation_alias="RFSERVE_WEIGHTS_RETRIES")
    """Retries of a weights call that failed to connect, got a 5xx or an incomplete body."""
    weights_backoff_s: float = Field(0.5, ge=0, validation_alias="RFSERVE_WEIGHTS_BACKOFF_S")
    """Pause before the first retry; it doubles for each further one."""

    allow_pickled_numpy: bool = Field(False, validation_alias="RFSERVE_ALLOW_PICKLED_NUMPY")
    """Accept pickled NumPy payloads, read by an unpickler that builds NumPy arrays and
    nothing else (``preprocessing/numpy_payload.py``); trusted clients only all the same."""

    allow_url_input: bool = Field(True, validation_alias="ALLOW_URL_INPUT")
    """Accept images given by URL (fetched by the server); false refuses them with 400."""

    url_allow_networks: CommaList = Field(
        default_factory=list, validation_alias="RFSERVE_URL_ALLOW_NETWORKS"
    )
    """Hosts or CIDR networks that image URLs may reach although private or loopback."""

    url_max_bytes: int = Field(20 * 2**20, gt=0, validation_alias="RFSERVE_URL_MAX_BYTES")
    url_timeout_s: float = Field(10.0, gt=0, validation_alias="RFSERVE_URL_TIMEOUT_S")
    url_max_redirects: int = Field(3, ge=0, validation_alias="RFSERVE_URL_MAX_REDIRECTS")

    max_image_pixels: int = Field(8192 * 8192, gt=0, validation_alias="RFSERVE_MAX_IMAGE_PIXELS")
    """Larger images are refused from their header, before they are decoded."""

    max_body_bytes: int = Field(50 * 2**20, gt=0, validation_alias="RFSERVE_MAX_BODY_BYTES")
    """Largest request body; a larger one is refused with 413 before it is read whole."""
    max_images_per_request: int = Field(32, ge=1, validation_alias="RFSERVE_MAX_IMAGES_PER_REQUEST")
    """Most images one request may carry (413 beyond)."""

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="RFSERVE_API_KEYS"
    )
    """Keys clients must present (``api_key`` or ``Authorization: Bearer``) to use the
    server; empty leaves it open. With keys set, weights come from Roboflow with the
    server's own ``ROBOFLOW_API_KEY``, never with a client's key."""

    @field_validator(
        "preload_models", "url_allow_networks", "weight_sources", "api_keys", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
