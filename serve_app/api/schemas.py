"""Wire schemas of the Roboflow inference HTTP API. They stay in ``api/``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.core.requests import MaskDecodeMode


class InferenceImage(BaseModel):
    type: Literal["base64", "url", "numpy"] = Field(
        description="How `value` carries the image: base64 file bytes, an http(s) URL, "
        "or a base64 .npy array (HxWx3 uint8, BGR)."
    )
    value: str = Field(min_length=1)


class PreprocessingSwitches(BaseModel):
    """Roboflow's per-request switches: each turns off, for this request, a step the
    model's environment.json enables. They never turn a step on."""

    disable_preproc_auto_orient: bool = False
    disable_preproc_contrast: bool = False
    disable_preproc_grayscale: bool = False
    disable_preproc_static_crop: bool = False


class BaseInferenceRequest(PreprocessingSwitches):
    # Roboflow clients send fields this server ignores (e.g. disable_active_learning).
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str = Field(min_length=3, examples=["shapes-detection/1"])
    image: InferenceImage | list[InferenceImage]
    api_key: str | None = None
    visualize_predictions: bool = Field(
        False, description="Also answer `visualization`: a base64 JPEG with predictions drawn."
    )
    visualization_labels: bool = Field(False, description="Write class and confidence too.")
    visualization_stroke_width: int = Field(1, ge=1, le=100)


class ObjectDetectionRequest(BaseInferenceRequest):
    confidence: float = Field(0.4, ge=0, le=1)
    iou_threshold: float = Field(0.3, ge=0, le=1)
    class_agnostic_nms: bool = False
    class_filter: list[str] | None = None
    max_detections: int = Field(300, ge=1, le=10_000)


class InstanceSegmentationRequest(ObjectDetectionRequest):
    mask_decode_mode: MaskDecodeMode = Field(
        MaskDecodeMode.ACCURATE,
        description="Resolution masks are decoded at: 'accurate' (network input), 'fast' "
        "(mask prototypes) or 'tradeoff' (in between, by `tradeoff_factor`).",
    )
    tradeoff_factor: float = Field(
        0.0, ge=0, le=1, description="For 'tradeoff' masks: 0 is 'fast', 1 is 'accurate'."
    )


class KeypointsDetectionRequest(ObjectDetectionRequest):
    keypoint_confidence: float = Field(
        0.0, ge=0, le=1, description="Keypoints scoring below are left out of their object"
    )


class ClassificationRequest(BaseInferenceRequest):
    confidence: float = Field(0.4, ge=0, le=1)


class ClassicJsonRequest(InstanceSegmentationRequest, KeypointsDetectionRequest):
    """A JSON body posted to the classic route: the ``/infer/{task}`` request of the
    model's task, whichever it is; the path names the model (``model_id`` is set
    from it)."""


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


class InferenceResponse(BaseModel):
    """Fields every task answers with."""

    inference_id: str
    time: float = Field(description="Server-side seconds spent on this image")
    image: ImageSize
    visualization: str | None = Field(
        None, description="Base64 JPEG of the image with predictions drawn, when asked for"
    )


class ObjectDetectionResponse(InferenceResponse):
    predictions: list[ObjectDetectionPrediction]


class Point(BaseModel):
    x: float
    y: float


class InstanceSegmentationPrediction(ObjectDetectionPrediction):
    points: list[Point] = Field(
        description="Outline of the instance's mask in original-image pixels; empty when "
        "the mask inside the box is empty"
    )


class InstanceSegmentationResponse(InferenceResponse):
    predictions: list[InstanceSegmentationPrediction]


class Keypoint(Point):
    confidence: float
    class_id: int = Field(description="Index of the keypoint among its object class's")
    class_: str = Field(alias="class", serialization_alias="class")


class KeypointsDetectionPrediction(ObjectDetectionPrediction):
    keypoints: list[Keypoint] = Field(
        description="The object's keypoints its class names, in original-image pixels"
    )


class KeypointsDetectionResponse(InferenceResponse):
    predictions: list[KeypointsDetectionPrediction]


class ClassificationPrediction(BaseModel):
    class_: str = Field(alias="class", serialization_alias="class")
    class_id: int
    confidence: float


class ClassificationResponse(InferenceResponse):
    """A single-label model's answer."""

    predictions: list[ClassificationPrediction] = Field(
        description="Classes scoring at least `confidence`, best first (softmax scores, "
        "unless the package declares its activation fused into the network)"
    )
    top: str = Field(description="The best class, whatever its score")
    confidence: float = Field(description="Score of the best class")


class MultiLabelClassificationPrediction(BaseModel):
    confidence: float
    class_id: int


class MultiLabelClassificationResponse(InferenceResponse):
    """A multi-label model's answer."""

    predictions: dict[str, MultiLabelClassificationPrediction] = Field(
        description="Every class by name, with its own score: the network's output as it "
        "is for Roboflow's legacy packages (MULTICLASS), or the activation the package's "
        "inference_config.json declares"
    )
    predicted_classes: list[str] = Field(
        description="Classes scoring above the request's `confidence`, best first"
    )


class ErrorResponse(BaseModel):
    message: str
    details: Any | None = None


class ServerInfo(BaseModel):
    name: str
    version: str
    uuid: str


class LegacyInferenceQuery(PreprocessingSwitches):
    """Query parameters of the classic ``/{dataset_id}/{version_id}`` route, as Roboflow's
    hosted API and its older clients send them."""

    model_config = ConfigDict(extra="ignore")

    api_key: str | None = None
    confidence: float = Field(
        0.4, ge=0, le=100, description="0..1, or a percentage from 1 up (40 means 0.4)"
    )
    overlap: float = Field(
        0.3, ge=0, le=100, description="NMS IoU threshold: 0..1, or a percentage from 1 up"
    )
    max_detections: int = Field(300, ge=1, le=10_000)
    image: str | None = Field(None, description="URL of the image; the body is then ignored")
    image_type: Literal["base64", "numpy"] = Field(
        "base64",
        description="What the body holds: base64 image file bytes, or a NumPy array as "
        "numpy.save bytes (raw or base64)",
    )
    format: Literal["json", "image", "image_and_json"] = Field(
        "json",
        description="'image' answers the JPEG with predictions drawn; 'image_and_json' "
        "answers the JSON with that JPEG, base64, in `visualization`",
    )
    # Roboflow's server draws no labels unless asked; a drawing without them says little.
    labels: bool = Field(
        True,
        description="Write class and confidence on drawn predictions (Roboflow's server "
        "defaults to false: labels=false draws as it does)",
    )
    stroke: int = Field(1, ge=1, le=100, description="Line width of drawn predictions")
    keypoint_confidence: float = Field(
        0.0, ge=0, le=1, description="Keypoint models: keypoints scoring below are left out"
    )
