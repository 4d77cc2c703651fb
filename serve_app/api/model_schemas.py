"""Wire schemas of the model management routes (``/model/*``), shaped as the Roboflow
server's, plus where each model is loaded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serve_app.core.engines import BuildState, EngineOrigin


class AddModelRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str = Field(min_length=3, examples=["shapes-detection/1"])
    model_type: str | None = Field(
        None, description="Accepted for compatibility; the model package names its type"
    )
    api_key: str | None = None


class RemoveModelRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str = Field(min_length=3, examples=["shapes-detection/1"])
    api_key: str | None = None


class ModelLocation(BaseModel):
    replica_id: str = Field(description="Ray Serve id of the model replica")
    node_id: str = Field(description="Ray node the replica runs on")


class BuildDescription(BaseModel):
    backend: str = Field(description="What is built", examples=["tensorrt", "torch-trace"])
    state: BuildState = Field(
        description="queued, waiting (for another replica's build), fetching (from S3), "
        "building, loading, ready (serving) or failed",
        examples=["building"],
    )
    progress: float = Field(description="Share of the build done, 0..1")
    elapsed_s: float = Field(description="Since it started; its duration once finished")
    origin: EngineOrigin | None = Field(None, description="cache, s3 or built, once ready")
    error: str | None = None


class EngineDescription(BaseModel):
    live: str = Field(description="The engine serving now", examples=["torch", "tensorrt"])
    device: str = Field(examples=["cpu", "cuda:0"])
    build: BuildDescription | None = Field(
        None, description="The optimised engine built in the background; null where none is"
    )
    fallback: str | None = Field(
        None, description="Why the configured backend or device is not the one used"
    )


class ModelDescription(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    task_type: str = Field(examples=["object-detection"])
    batch_size: int | None = Field(description="Fixed batch size; null where it is dynamic")
    input_height: int
    input_width: int
    replicas: list[ModelLocation] = Field(description="Every model replica holding it")
    engines: list[EngineDescription] = Field(
        default_factory=list,
        description="The engine of each replica above that reports one, in their order",
    )


class ModelsDescriptions(BaseModel):
    models: list[ModelDescription]


class Readiness(BaseModel):
    status: str = Field(examples=["ready", "not ready"])
    missing_models: list[str] = Field(
        default_factory=list, description="PRELOAD_MODELS not loaded yet"
    )
