"""Wire schemas of the Roboflow inference HTTP API. They stay in ``api/``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class InferenceImage(BaseModel):
    type: Literal["base64", "url", "numpy"] = Field(
        description="How `value` carries the image: base64 file bytes, an http(s) URL, "
        "or a base64 .npy array (HxWx3 uint8, BGR)."
    )
    value: str = Field(min_length=1)


class BaseInferenceRequest(BaseModel):
    # Roboflow clients send fields this server ignores (e.g. disable_active_learning).
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str = Field(min_length=3, examples=["shapes-detection/1"])
    image: InferenceImage | list[InferenceImage]
    api_key: str | None = None


class ObjectDetectionRequest(BaseInferenceRequest):
    confidence: float = Field(0.4, ge=0, le=1)
    iou_threshold: float = Field(0.3, ge=0, le=1)
    class_agnostic_nms: bool = False
    class_filter: list[str] | None = None
    max_detections: int = Field(300, ge=1, le=10_000)


class ImageSize(BaseModel):
    width: int
    height: int


class ObjectDetectionPrediction(BaseModel):
    x: float = Field(description="Box centre x in original-image pixels")
    y: float = Field(description="Box centre y in original-image pixels")
    width: float
    height: float
    confidence: float
    class_: str = Field(alias="class", serialization_alias="class")
    class_id: int
    detection_id: str


class ObjectDetectionResponse(BaseModel):
    inference_id: str
    time: float = Field(description="Server-side seconds spent on this image")
    image: ImageSize
    predictions: list[ObjectDetectionPrediction]


class ErrorResponse(BaseModel):
    message: str
    details: Any | None = None


class ServerInfo(BaseModel):
    name: str
    version: str
    uuid: str
