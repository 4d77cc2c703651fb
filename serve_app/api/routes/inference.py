"""/infer/* endpoints: one per task; each asks the pipeline for its own task, so a model
of another task is refused with a 400 by the preprocessing deployment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends

from serve_app.api.api_keys import RequestApiKey
from serve_app.api.pipeline import InferencePipeline, get_pipeline
from serve_app.api.request_options import preprocess_options, visualization_style
from serve_app.api.responses import task_response
from serve_app.api.schemas import (
    BaseInferenceRequest,
    ClassificationRequest,
    ClassificationResponse,
    InferenceResponse,
    InstanceSegmentationRequest,
    InstanceSegmentationResponse,
    MultiLabelClassificationResponse,
    ObjectDetectionRequest,
    ObjectDetectionResponse,
)
from serve_app.messages import ClassificationParams, DecodeParams, SegmentationParams, TaskParams
from serve_app.preprocessing.options import VisualizationStyle
from serve_app.weights import Task

router = APIRouter(tags=["inference"])
Pipeline = Annotated[InferencePipeline, Depends(get_pipeline)]
F = TypeVar("F", bound=Callable[..., Any])


def _task_route(path: str, response: Any, **options: Any) -> Callable[[F], F]:
    """``router.post`` for a task: one response, or a list of them for a list of images."""
    return router.post(
        path,
        response_model=response | list[response],
        response_model_by_alias=True,
        response_model_exclude_none=True,
        **options,
    )


@_task_route(
    "/infer/object_detection",
    ObjectDetectionResponse,
    summary="Detect objects in one image or a list of images",
)
async def infer_object_detection(
    request: ObjectDetectionRequest, pipeline: Pipeline, api_key: RequestApiKey
) -> InferenceResponse | list[InferenceResponse]:
    params = DecodeParams(**_box_options(request))
    style = visualization_style(request)
    return await _infer(request, Task.OBJECT_DETECTION, params, pipeline, api_key, style)


@_task_route(
    "/infer/instance_segmentation",
    InstanceSegmentationResponse,
    summary="Segment object instances (boxes and outlines) in one image or a list of images",
)
@_task_route(  # the name some Roboflow clients use
    "/infer/segmentation", InstanceSegmentationResponse, include_in_schema=False
)
async def infer_instance_segmentation(
    request: InstanceSegmentationRequest, pipeline: Pipeline, api_key: RequestApiKey
) -> InferenceResponse | list[InferenceResponse]:
    params = SegmentationParams(
        **_box_options(request),
        mask_decode_mode=request.mask_decode_mode,
        tradeoff_factor=request.tradeoff_factor,
    )
    style = visualization_style(request)
    return await _infer(request, Task.INSTANCE_SEGMENTATION, params, pipeline, api_key, style)


@_task_route(
    "/infer/classification",
    ClassificationResponse | MultiLabelClassificationResponse,
    summary="Classify one image or a list of images (single- or multi-label models)",
)
async def infer_classification(
    request: ClassificationRequest, pipeline: Pipeline, api_key: RequestApiKey
) -> InferenceResponse | list[InferenceResponse]:
    params = ClassificationParams(confidence=request.confidence)
    return await _infer(request, Task.CLASSIFICATION, params, pipeline, api_key)


def _box_options(request: ObjectDetectionRequest) -> dict[str, Any]:
    """The :class:`DecodeParams` fields of a detection or segmentation request."""
    return {
        "confidence": request.confidence,
        "iou_threshold": request.iou_threshold,
        "class_agnostic_nms": request.class_agnostic_nms,
        "class_filter": None if request.class_filter is None else tuple(request.class_filter),
        "max_detections": request.max_detections,
    }


async def _infer(
    request: BaseInferenceRequest,
    task: Task,
    params: TaskParams,
    pipeline: InferencePipeline,
    api_key: str | None,
    style: VisualizationStyle | None = None,
) -> InferenceResponse | list[InferenceResponse]:
    """Every image of ``request``, concurrently: one response, or a list for a list."""
    options = preprocess_options(request)
    api_key = api_key or request.api_key
    images = request.image if isinstance(request.image, list) else [request.image]
    outcomes = await asyncio.gather(
        *(
            pipeline.run(image, request.model_id, task, params, api_key, options, style)
            for image in images
        )
    )
    responses = [task_response(task, outcome) for outcome in outcomes]
    return responses if isinstance(request.image, list) else responses[0]
