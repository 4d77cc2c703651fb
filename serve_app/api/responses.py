"""Internal results → Roboflow response bodies."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from serve_app.api.pipeline import InferenceOutcome
from serve_app.api.schemas import ImageSize, ObjectDetectionPrediction, ObjectDetectionResponse
from serve_app.messages import Detections
from serve_app.weights import Task

R = TypeVar("R", bound=BaseModel)


def detection_response(detections: Detections, elapsed_s: float) -> ObjectDetectionResponse:
    predictions = []
    for (x1, y1, x2, y2), conf, cid in zip(
        detections.xyxy.tolist(),
        detections.confidence.tolist(),
        detections.class_id.tolist(),
        strict=True,
    ):
        predictions.append(
            ObjectDetectionPrediction.model_validate(
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
            )
        )
    return ObjectDetectionResponse(
        inference_id=str(uuid.uuid4()),
        time=elapsed_s,
        image=ImageSize(width=detections.image_width, height=detections.image_height),
        predictions=predictions,
    )


RESPONSE_BUILDERS: dict[Task, Callable[[Any, float], BaseModel]] = {
    Task.OBJECT_DETECTION: detection_response,
}
"""The response shape of each task's prediction, for routes that serve any task."""


def task_response(task: Task, outcome: InferenceOutcome) -> BaseModel:
    """The response for a model of ``task``, with its drawing when one was made."""
    response = RESPONSE_BUILDERS[task](outcome.prediction, outcome.elapsed_s)
    return with_visualization(response, outcome.visualization)


def with_visualization(response: R, jpeg: bytes | None) -> R:
    """``response`` carrying ``jpeg`` base64-encoded in ``visualization``, as Roboflow does."""
    if jpeg is None:
        return response
    return response.model_copy(update={"visualization": base64.b64encode(jpeg).decode("ascii")})
