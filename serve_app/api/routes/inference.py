"""/infer/* endpoints."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from serve_app.api.api_keys import RequestApiKey
from serve_app.api.pipeline import InferencePipeline, get_pipeline
from serve_app.api.request_options import preprocess_options, visualization_style
from serve_app.api.responses import task_response
from serve_app.api.schemas import ObjectDetectionRequest, ObjectDetectionResponse
from serve_app.messages import DecodeParams
from serve_app.weights import Task

router = APIRouter(tags=["inference"])
Pipeline = Annotated[InferencePipeline, Depends(get_pipeline)]


@router.post(
    "/infer/object_detection",
    response_model=ObjectDetectionResponse | list[ObjectDetectionResponse],
    response_model_by_alias=True,
    response_model_exclude_none=True,
    summary="Detect objects in one image or a list of images",
)
async def infer_object_detection(
    request: ObjectDetectionRequest, pipeline: Pipeline, api_key: RequestApiKey
) -> BaseModel | list[BaseModel]:
    params = DecodeParams(
        confidence=request.confidence,
        iou_threshold=request.iou_threshold,
        class_agnostic_nms=request.class_agnostic_nms,
        class_filter=tuple(request.class_filter) if request.class_filter is not None else None,
        max_detections=request.max_detections,
    )
    api_key = api_key or request.api_key
    options, style = preprocess_options(request), visualization_style(request)
    images = request.image if isinstance(request.image, list) else [request.image]
    outcomes = await asyncio.gather(
        *(
            pipeline.run(
                image, request.model_id, Task.OBJECT_DETECTION, params, api_key, options, style
            )
            for image in images
        )
    )
    responses = [task_response(Task.OBJECT_DETECTION, outcome) for outcome in outcomes]
    return responses if isinstance(request.image, list) else responses[0]
