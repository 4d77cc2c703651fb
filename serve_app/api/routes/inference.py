"""/infer/* endpoints."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from serve_app.api.api_keys import RequestApiKey
from serve_app.api.pipeline import InferencePipeline, get_pipeline
from serve_app.api.responses import detection_response
from serve_app.api.schemas import ObjectDetectionRequest, ObjectDetectionResponse
from serve_app.messages import DecodeParams
from serve_app.weights import Task

router = APIRouter(tags=["inference"])
Pipeline = Annotated[InferencePipeline, Depends(get_pipeline)]


@router.post(
    "/infer/object_detection",
    response_model=ObjectDetectionResponse | list[ObjectDetectionResponse],
    response_model_by_alias=True,
    summary="Detect objects in one image or a list of images",
)
async def infer_object_detection(
    request: ObjectDetectionRequest, pipeline: Pipeline, api_key: RequestApiKey
) -> ObjectDetectionResponse | list[ObjectDetectionResponse]:
    params = DecodeParams(
        confidence=request.confidence,
        iou_threshold=request.iou_threshold,
        class_agnostic_nms=request.class_agnostic_nms,
        class_filter=tuple(request.class_filter) if request.class_filter is not None else None,
        max_detections=request.max_detections,
    )
    api_key = api_key or request.api_key
    images = request.image if isinstance(request.image, list) else [request.image]
    results = await asyncio.gather(
        *(
            pipeline.run(image, request.model_id, Task.OBJECT_DETECTION, params, api_key)
            for image in images
        )
    )
    responses = [detection_response(d, elapsed) for d, elapsed in results]
    return responses if isinstance(request.image, list) else responses[0]
