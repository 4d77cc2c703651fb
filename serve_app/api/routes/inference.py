"""/infer/* endpoints: one per task; each asks for its own task, so a model of another
task is refused with a 400 by the preprocessing stage."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import GenericAlias
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serve_app.api.caller import Caller, CallerDep
from serve_app.api.dispatch import RequestDispatcher, get_dispatcher
from serve_app.api.json_body import FastJsonRoute
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

router = APIRouter(tags=["inference"], route_class=FastJsonRoute)
Dispatcher = Annotated[RequestDispatcher, Depends(get_dispatcher)]
Endpoint = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class TaskRoute:
    """One ``/infer/{task}`` endpoint: the task it asks for and its wire types."""

    path: str
    task: Task
    request: type[BaseInferenceRequest]
    response: Any
    summary: str
    aliases: tuple[str, ...] = ()
    """Further paths that answer the same, left out of the API docs."""


TASK_ROUTES = (
    TaskRoute(
        "/infer/object_detection",
        Task.OBJECT_DETECTION,
        ObjectDetectionRequest,
        ObjectDetectionResponse,
        "Detect objects in one image or a list of images",
    ),
    TaskRoute(
        "/infer/instance_segmentation",
        Task.INSTANCE_SEGMENTATION,
        InstanceSegmentationRequest,
        InstanceSegmentationResponse,
        "Segment object instances (boxes and outlines) in one image or a list of images",
        aliases=("/infer/segmentation",),  # the name some Roboflow clients use
    ),
    TaskRoute(
        "/infer/keypoints_detection",
        Task.KEYPOINT_DETECTION,
        KeypointsDetectionRequest,
        KeypointsDetectionResponse,
        "Detect objects and their keypoints in one image or a list of images",
    ),
    TaskRoute(
        "/infer/classification",
        Task.CLASSIFICATION,
        ClassificationRequest,
        ClassificationResponse | MultiLabelClassificationResponse,
        "Classify one image or a list of images (single- or multi-label models)",
    ),
)


def _endpoint(route: TaskRoute) -> Endpoint:
    """The handler of ``route``: its request, answered by a model of its task."""

    async def endpoint(
        request: BaseInferenceRequest, dispatcher: Dispatcher, caller: CallerDep
    ) -> Response:
        return await answer_request(request, route.task, dispatcher, caller)

    # FastAPI reads the body's schema from the annotation: the route's own request type.
    endpoint.__annotations__["request"] = route.request
    endpoint.__name__ = "infer_" + route.path.rsplit("/", 1)[-1]
    return endpoint


def _add_task_routes() -> None:
    """Each task's endpoint answers one response, or a list of them for a list of images
    (``response_model`` documents the shape; :func:`answer_request` writes the body)."""
    for route in TASK_ROUTES:
        endpoint = _endpoint(route)
        for path in (route.path, *route.aliases):
            router.post(
                path,
                response_model=route.response | GenericAlias(list, (route.response,)),
                response_model_by_alias=True,
                response_model_exclude_none=True,
                summary=route.summary,
                include_in_schema=path == route.path,
            )(endpoint)


async def answer_request(
    request: BaseInferenceRequest,
    task: Task | None,
    dispatcher: RequestDispatcher,
    caller: Caller,
) -> Response:
    """Every image of ``request`` as one request to the stages: one response, or a
    list for a list (``response_model`` documents the shape; the body is written here).

    ``task`` None serves the model's own task.
    """
    start = time.perf_counter()
    images = image_payloads(request.image)
    admitted = caller.admit_inference(request.model_id, len(images), request.api_key)
    inference = InferenceRequest(
        images=images,
        params=inference_params(request),
        options=preprocess_options(request),
        visualization=visualization_style(request),
        request_id=admitted.request_id,
    )
    result = await dispatcher.infer(admitted.model_id, task, inference, admitted.weights_key)
    elapsed = time.perf_counter() - start
    responses = [task_response(result.task, image, elapsed) for image in result.images]
    return json_response(responses if isinstance(request.image, list) else responses[0])


_add_task_routes()
