"""/infer/* endpoints: one per task; each asks for its own task, so a model of another
task is refused with a 400 by the preprocessing stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serve_app.api.caller import Caller, CallerDep
from serve_app.api.dispatch import RequestDispatcher, get_dispatcher
from serve_app.api.request_options import (
    box_options,
    image_payloads,
    preprocess_options,
    visualization_style,
)
from serve_app.api.responses import json_response, task_response
from serve_app.api.schemas import (
    BaseInferenceRequest,
    ClassificationRequest,
    ClassificationResponse,
    InstanceSegmentationRequest,
    InstanceSegmentationResponse,
    MultiLabelClassificationResponse,
    ObjectDetectionRequest,
    ObjectDetectionResponse,
)
from serve_app.core.ids import Task
from serve_app.core.requests import InferenceParams, InferenceRequest, VisualizationStyle

router = APIRouter(tags=["inference"])
Dispatcher = Annotated[RequestDispatcher, Depends(get_dispatcher)]
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
    request: ObjectDetectionRequest, dispatcher: Dispatcher, caller: CallerDep
) -> Response:
    params = InferenceParams(**box_options(request))
    style = visualization_style(request)
    return await _infer(request, Task.OBJECT_DETECTION, params, dispatcher, caller, style)


@_task_route(
    "/infer/instance_segmentation",
    InstanceSegmentationResponse,
    summary="Segment object instances (boxes and outlines) in one image or a list of images",
)
@_task_route(  # the name some Roboflow clients use
    "/infer/segmentation", InstanceSegmentationResponse, include_in_schema=False
)
async def infer_instance_segmentation(
    request: InstanceSegmentationRequest, dispatcher: Dispatcher, caller: CallerDep
) -> Response:
    params = InferenceParams(
        **box_options(request),
        mask_decode_mode=request.mask_decode_mode,
        tradeoff_factor=request.tradeoff_factor,
    )
    style = visualization_style(request)
    return await _infer(request, Task.INSTANCE_SEGMENTATION, params, dispatcher, caller, style)


@_task_route(
    "/infer/classification",
    ClassificationResponse | MultiLabelClassificationResponse,
    summary="Classify one image or a list of images (single- or multi-label models)",
)
async def infer_classification(
    request: ClassificationRequest, dispatcher: Dispatcher, caller: CallerDep
) -> Response:
    params = InferenceParams(confidence=request.confidence)
    return await _infer(request, Task.CLASSIFICATION, params, dispatcher, caller)


async def _infer(
    request: BaseInferenceRequest,
    task: Task,
    params: InferenceParams,
    dispatcher: RequestDispatcher,
    caller: Caller,
    style: VisualizationStyle | None = None,
) -> Response:
    """Every image of ``request`` as one request to the stages: one response, or a
    list for a list (``response_model`` documents the shape; the body is written here)."""
    start = time.perf_counter()
    images = image_payloads(request.image)
    admitted = caller.admit_inference(request.model_id, len(images), request.api_key)
    inference = InferenceRequest(
        images=images,
        params=params,
        options=preprocess_options(request),
        visualization=style,
        request_id=admitted.request_id,
    )
    result = await dispatcher.infer(admitted.model_id, task, inference, admitted.weights_key)
    elapsed = time.perf_counter() - start
    responses = [task_response(result.task, image, elapsed) for image in result.images]
    return json_response(responses if isinstance(request.image, list) else responses[0])
