"""Internal results → Roboflow response bodies."""

from __future__ import annotations

import uuid

from serve_app.api.schemas import ImageSize, ObjectDetectionPrediction, ObjectDetectionResponse
from serve_app.messages import Detections


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
