"""Internal results → Roboflow response bodies."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from fastapi.responses import Response

from serve_app.api.schemas import (
    ClassificationPrediction,
    ClassificationResponse,
    ImageSize,
    InferenceResponse,
    InstanceSegmentationPrediction,
    InstanceSegmentationResponse,
    KeypointsDetectionPrediction,
    KeypointsDetectionResponse,
    MultiLabelClassificationPrediction,
    MultiLabelClassificationResponse,
    ObjectDetectionPrediction,
    ObjectDetectionResponse,
)
from serve_app.core.ids import Task
from serve_app.core.predictions import Classification, Detections, ImageResult

R = TypeVar("R", bound=InferenceResponse)


def detection_response(detections: Detections, elapsed_s: float) -> ObjectDetectionResponse:
    return ObjectDetectionResponse(
        **_envelope(detections.image_width, detections.image_height, elapsed_s),
        predictions=[ObjectDetectionPrediction.model_validate(b) for b in _boxes(detections)],
    )


def instance_segmentation_response(
    detections: Detections, elapsed_s: float
) -> InstanceSegmentationResponse:
    empty = np.empty((0, 2), dtype=np.float32)
    polygons = detections.polygons or [empty] * len(detections)
    predictions = [
        InstanceSegmentationPrediction.model_validate(
            {**box, "points": [{"x": x, "y": y} for x, y in polygon.tolist()]}
        )
        for box, polygon in zip(_boxes(detections), polygons, strict=True)
    ]
    return InstanceSegmentationResponse(
        **_envelope(detections.image_width, detections.image_height, elapsed_s),
        predictions=predictions,
    )


def keypoints_detection_response(
    detections: Detections, elapsed_s: float
) -> KeypointsDetectionResponse:
    names = detections.keypoint_names
    empty = np.empty((0, 4), dtype=np.float32)
    keypoints = detections.keypoints or [empty] * len(detections)
    predictions = [
        KeypointsDetectionPrediction.model_validate(
            {
                **box,
                "keypoints": [
                    {
                        "x": x,
                        "y": y,
                        "confidence": confidence,
                        "class_id": int(index),
                        "class": names[box["class_id"]][int(index)],
                    }
                    for x, y, confidence, index in points.tolist()
                ],
            }
        )
        for box, points in zip(_boxes(detections), keypoints, strict=True)
    ]
    return KeypointsDetectionResponse(
        **_envelope(detections.image_width, detections.image_height, elapsed_s),
        predictions=predictions,
    )


def classification_response(
    result: Classification, elapsed_s: float
) -> ClassificationResponse | MultiLabelClassificationResponse:
    envelope = _envelope(result.image_width, result.image_height, elapsed_s)
    names, scores = result.class_names, result.scores.tolist()
    predicted = result.predicted.tolist()
    if result.multilabel:
        return MultiLabelClassificationResponse(
            **envelope,
            predictions={
                name: MultiLabelClassificationPrediction(confidence=score, class_id=i)
                for i, (name, score) in enumerate(zip(names, scores, strict=True))
            },
            predicted_classes=[names[i] for i in predicted],
        )
    top = int(np.argmax(result.scores))
    return ClassificationResponse(
        **envelope,
        predictions=[
            ClassificationPrediction.model_validate(
                {"class": names[i], "class_id": i, "confidence": scores[i]}
            )
            for i in predicted
        ],
        top=names[top],
        confidence=scores[top],
    )


RESPONSE_BUILDERS: dict[Task, Callable[[Any, float], InferenceResponse]] = {
    Task.OBJECT_DETECTION: detection_response,
    Task.INSTANCE_SEGMENTATION: instance_segmentation_response,
    Task.CLASSIFICATION: classification_response,
    Task.KEYPOINT_DETECTION: keypoints_detection_response,
}
"""The response shape of each task's prediction, for routes that serve any task."""


def task_response(task: Task, result: ImageResult, elapsed_s: float) -> InferenceResponse:
    """The response for one image by a model of ``task``, with its drawing when one
    was made."""
    response = RESPONSE_BUILDERS[task](result.prediction, elapsed_s)
    return with_visualization(response, result.visualization)


def json_response(body: InferenceResponse | list[InferenceResponse]) -> Response:
    """``body`` as Roboflow writes it (aliases, no null fields), serialised once by
    pydantic: a route that returns a Response skips FastAPI's second validation."""
    parts = body if isinstance(body, list) else [body]
    dumped = [part.model_dump_json(by_alias=True, exclude_none=True) for part in parts]
    text = f"[{','.join(dumped)}]" if isinstance(body, list) else dumped[0]
    return Response(text, media_type="application/json")


def with_visualization(response: R, jpeg: bytes | None) -> R:
    """``response`` carrying ``jpeg`` base64-encoded in ``visualization``, as Roboflow does."""
    if jpeg is None:
        return response
    return response.model_copy(update={"visualization": base64.b64encode(jpeg).decode("ascii")})


def _envelope(width: int, height: int, elapsed_s: float) -> dict[str, Any]:
    """Fields every response has."""
    return {
        "inference_id": str(uuid.uuid4()),
        "time": elapsed_s,
        "image": ImageSize(width=width, height=height),
    }


def _boxes(detections: Detections) -> list[dict[str, Any]]:
    """Box fields of each detection, as Roboflow writes them: centre and size."""
    return [
        {
            "x": (x1 + x2) / 2,
            "y": (y1 + y2) / 2,
            "width": x2 - x1,
            "height": y2 - y1,
            "confidence": conf,
            "class": detections.class_names[cid],
            "class_id": cid,
            "detection_id": str(uuid.uuid4()),
        }
        for (x1, y1, x2, y2), conf, cid in zip(
            detections.xyxy.tolist(),
            detections.confidence.tolist(),
            detections.class_id.tolist(),
            strict=True,
        )
    ]
