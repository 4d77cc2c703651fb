"""/infer/* endpoints: one per task; each asks for its own task, so a model of another
task is refused with a 400 by the preprocessing stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serve_app.api.api_keys import RequestApiKey
from serve_app.api.dispatch import RequestDispatcher, get_dispatcher
from serve_app.api.request_options import (
    image_payloads,
    inference_params,
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
    KeypointsDetectionRequest,
    KeypointsDetectionResponse,
    MultiLabelClassificationResponse,
    ObjectDetectionRequest,
    ObjectDetectionResponse,
)
from serve_app.core.ids import Task
from serve_app.core.requests import InferenceRequest

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
    request: ObjectDetectionRequest, dispatcher: Dispatcher, api_key: RequestApiKey
) -> Response:
    return await answer_request(request, Task.OBJECT_DETECTION, dispatcher, api_key)


@_task_route(
    "/infer/instance_segmentation",
    InstanceSegmentationResponse,
    summary="Segment object instances (boxes and outlines) in one image or a list of images",
)
@_task_route(  # the name some Roboflow clients use
    "/infer/segmentation", InstanceSegmentationResponse, include_in_schema=False
)
async def infer_instance_segmentation(
    request: InstanceSegmentationRequest, dispatcher: Dispatcher, api_key: RequestApiKey
) -> Response:
    return await answer_request(request, Task.INSTANCE_SEGMENTATION, dispatcher, api_key)


@_task_route(
    "/infer/keypoints_detection",
    KeypointsDetectionResponse,
    summary="Detect objects and their keypoints in one image or a list of images",
)
async def infer_keypoints_detection(
    request: KeypointsDetectionRequest, dispatcher: Dispatcher, api_key: RequestApiKey
) -> Response:
    return await answer_request(request, Task.KEYPOINT_DETECTION, dispatcher, api_key)


@_task_route(
    "/infer/classification",
    ClassificationResponse | MultiLabelClassificationResponse,
    summary="Classify one image or a list of images (single- or multi-label models)",
)
async def infer_classification(
    request: ClassificationRequest, dispatcher: Dispatcher, api_key: RequestApiKey
) -> Response:
    return await answer_request(request, Task.CLASSIFICATION, dispatcher, api_key)


async def answer_request(
    request: BaseInferenceRequest,
    task: Task | None,
    dispatcher: RequestDispatcher,
    api_key: str | None,
    model_id: str | None = None,
) -> Response:
    """Every image of ``request`` as one request to the stages: one response, or a
    list for a list (``response_model`` documents the shape; the body is written here).

    ``task`` None serves the model's own task; ``model_id`` replaces the request's.
    """
    start = time.perf_counter()
    inference = InferenceRequest(
        images=image_payloads(request.image),
        params=inference_params(request),
        options=preprocess_options(request),
        visualization=visualization_style(request),
    )
    result = await dispatcher.infer(
        model_id or str(request.model_id), task, inference, api_key or request.api_key
    )
    elapsed = time.perf_counter() - start
    responses = [task_response(result.task, image, elapsed) for image in result.images]
    return json_response(responses if isinstance(request.image, list) else responses[0])
