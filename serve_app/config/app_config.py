"""The typed application config: ``args`` of a ``serve run`` YAML, a KubeRay
``serveConfigV2`` or a Python caller all validate against :class:`AppConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from serve_app.config.settings import ServerSettings
from serve_app.core.engines import EngineOptions


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoscalingConfig(_Strict):
    """Serve's autoscaler for one deployment: it adds replicas while each has more than
    ``target_ongoing_requests`` in flight, and removes them when there is less."""

    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(4, ge=1)
    initial_replicas: int | None = Field(None, ge=0)
    target_ongoing_requests: float = Field(16.0, gt=0)
    upscale_delay_s: float = Field(10.0, ge=0)
    """How long the load must stay above the target before a replica is added."""
    downscale_delay_s: float = Field(300.0, ge=0)
    """How long it must stay below before one is removed."""

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class DeploymentConfig(_Strict):
    """Ray Serve options of one deployment. Fractional CPUs let the whole graph fit
    on a 2-core machine; every Ray actor asks for a full CPU otherwise."""

    num_replicas: int = Field(1, ge=1)
    """Fixed replica count; ignored where ``autoscaling`` is set."""
    autoscaling: AutoscalingConfig | None = None
    num_cpus: float = Field(0.25, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    resources: dict[str, float] = Field(default_factory=dict)
    """Custom Ray resources each replica needs (e.g. ``{"cpu_node": 0.01}``), so that
    replicas land only on the nodes that advertise them (``ray start --resources``)."""
    label_selector: dict[str, str] = Field(default_factory=dict)
    """Ray node labels each replica's node must have (``ray start --labels``)."""
    max_ongoing_requests: int = Field(64, ge=1)
    max_queued_requests: int = Field(64, ge=-1)
    """Requests waiting for a replica beyond ``max_ongoing_requests``; past them Serve
    answers 503 at once instead of queueing without bound (-1: no bound)."""
    retry_after_s: float = Field(1.0, ge=0)
    """``Retry-After`` of those 503 answers."""

    def ray_options(self, env_vars: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Serve's options; ``env_vars`` are set in each replica's process before it
        starts (for libraries that read them when they load)."""
        actor: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.resources:
            actor["resources"] = dict(self.resources)
        if self.label_selector:
            actor["label_selector"] = dict(self.label_selector)
        if env_vars:
            actor["runtime_env"] = {"env_vars": dict(env_vars)}
        replicas: dict[str, Any] = (
            {"autoscaling_config": self.autoscaling.model_dump(exclude_none=True)}
            if self.autoscaling is not None
            else {"num_replicas": self.num_replicas}
        )
        return {
            **replicas,
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "backpressure_config": {"retry_after_s": self.retry_after_s},
            "ray_actor_options": actor,
            # The ingress writes one line per request itself (observability/request_log.py).
            "logging_config": {"enable_access_log": False},
        }


class PreprocessingDeploymentConfig(DeploymentConfig):
    threads: int = Field(2, ge=1)
    """Threads each replica decodes and resizes a group's images on, in parallel."""


class GroupingConfig(_Strict):
    """How the ingress groups concurrent requests for one model into one call of the
    next stage. A request whose model has a call slot free goes at once; while every
    slot is busy, requests gather and leave together when one frees."""

    max_images: int = Field(32, ge=1)
    """Most images in one group (a single larger request still goes, alone)."""
    max_in_flight: int = Field(2, ge=1)
    """Calls per model each ingress replica keeps running at once."""


class BatchingConfig(_Strict):
    """How a model replica gathers the images sent for one model into forward passes,
    in the same way: at once when a slot is free, together while none is."""

    max_batch_size: int = Field(8, ge=1)
    """Most images in one forward pass."""
    max_in_flight: int = Field(1, ge=1)
    """Forward passes per model a replica runs at once."""


Composition = Literal["split", "fused"]


class AppConfig(_Strict):
    name: str = "rfserve"
    composition: Composition = "split"
    """``split``: ingress → preprocessing → model, each its own deployment scaled on its
    own (clusters). ``fused``: the same stages in one deployment, no hops between them
    (one machine, edge devices); it takes the ``model`` deployment options."""
    # Bounded so that under overload a request waits about a second at most before it is
    # answered, and the rest are refused at once (bench/README.md, overload).
    ingress: DeploymentConfig = DeploymentConfig(
        num_cpus=0.2, max_ongoing_requests=128, max_queued_requests=32
    )
    preprocessing: PreprocessingDeploymentConfig = PreprocessingDeploymentConfig(num_cpus=0.3)
    model: DeploymentConfig = DeploymentConfig(
        num_cpus=0.5, max_ongoing_requests=96, max_queued_requests=32
    )
    grouping: GroupingConfig = GroupingConfig()
    batching: BatchingConfig = BatchingConfig()
    engine: EngineOptions = EngineOptions()
    """How model replicas run networks (``serve_app/engines``)."""
    settings: ServerSettings = Field(default_factory=ServerSettings)
    """Overrides for environment settings; the environment fills in the rest."""

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_over_environment(cls, value: object) -> object:
        # Building through __init__ merges the environment under the YAML values.
        return ServerSettings(**value) if isinstance(value, dict) else value
