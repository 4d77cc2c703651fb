"""The classic ``/{dataset_id}/{version_id}`` route of Roboflow's hosted API.

Options come in the query string; the image is the body (base64 text, as the classic
clients post it form-encoded; or a NumPy array), a multipart part named ``file``, or a
URL in ``image=``. A JSON body (``Content-Type: application/json``) is instead read as
the ``/infer/{task}`` request of the model's task, options included, as Roboflow's
older docs post it. The route serves whatever task the model was trained for and
answers in that task's response shape.

It catches every two-segment path, so it is included last and its first segment may
not be one the server's other routes begin with: ``GET /infer/object_detection`` is
a 405 from that route, never an inference here.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.datastructures import UploadFile

from serve_app.api.caller import Admitted, CallerDep
from serve_app.api.dispatch import RequestDispatcher, get_dispatcher
from serve_app.api.json_body import FastJsonRoute
from serve_app.api.request_options import preprocess_options
from serve_app.api.responses import json_response, task_response
from serve_app.api.routes.inference import answer_request
from serve_app.api.schemas import ClassicJsonRequest, LegacyInferenceQuery
from serve_app.core.requests import (
    ImagePayload,
    ImageType,
    InferenceParams,
    InferenceRequest,
    VisualizationStyle,
)
from serve_app.errors import InvalidImageError, InvalidRequestError

DOCS_ASSETS_SEGMENT = "docs-assets"
"""Where /docs and /redoc load Swagger UI and ReDoc from (see ``api/ingress.py``)."""
PAGE_ASSETS_SEGMENT = "page-assets"
"""Where the page at ``/`` loads its script, style and example image from."""
# First path segments of the server's other routes (and FastAPI's docs).
RESERVED_SEGMENTS = (
    "infer",
    "model",
    "docs",
    "redoc",
    "openapi.json",
    "info",
    "healthz",
    "readiness",
    DOCS_ASSETS_SEGMENT,
    PAGE_ASSETS_SEGMENT,
)
# Roboflow floors the confidence of this route at 1%.
_MIN_CONFIDENCE = 0.01


class DatasetIdConvertor(StringConvertor):
    """A path segment that is not one of :data:`RESERVED_SEGMENTS`."""

    regex = "(?!(?:" + "|".join(map(re.escape, RESERVED_SEGMENTS)) + ")/)[^/]+"


register_url_convertor("dataset_id", DatasetIdConvertor())

router = APIRouter(tags=["legacy"], route_class=FastJsonRoute)
Dispatcher = Annotated[RequestDispatcher, Depends(get_dispatcher)]
LegacyQuery = Annotated[LegacyInferenceQuery, Query()]

# The body's shape depends on the model's task, known only once the model is.
_JSON_OR_JPEG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "image/jpeg": {}},
        "description": "The response of the model's task, as /infer/{task} answers it, "
        "or the JPEG with predictions drawn when format=image",
    }
}


@router.post(
    "/{dataset_id:dataset_id}/{version_id}",
    response_class=Response,
    responses=_JSON_OR_JPEG,
    summary="Infer with any model, Roboflow's classic API (image in the body)",
)
async def legacy_infer_post(
    dataset_id: str,
    version_id: str,
    query: LegacyQuery,
    request: Request,
    dispatcher: Dispatcher,
    caller: CallerDep,
) -> Response:
    model_id = f"{dataset_id}/{version_id}"
    if _media_type(request) == "application/json" and not query.image:
        # The older docs' style: the body is the /infer request (its key may be inside).
        body = await _json_request(request, model_id)
        return await answer_request(body, None, dispatcher, caller)
    start = time.perf_counter()
    admitted = caller.admit_inference(model_id, 1, None)
    payload = _url_payload(query) or await _body_payload(request, query)
    return await _infer(admitted, payload, query, dispatcher, start)


@router.get(
    "/{dataset_id:dataset_id}/{version_id}",
    response_class=Response,
    responses=_JSON_OR_JPEG,
    summary="Infer with any model, Roboflow's classic API (image=<url>)",
)
async def legacy_infer_get(
    dataset_id: str,
    version_id: str,
    query: LegacyQuery,
    dispatcher: Dispatcher,
    caller: CallerDep,
) -> Response:
    start = time.perf_counter()
    admitted = caller.admit_inference(f"{dataset_id}/{version_id}", 1, None)
    payload = _url_payload(query)
    if payload is None:
        raise InvalidImageError("GET requests name the image with image=<url>")
    return await _infer(admitted, payload, query, dispatcher, start)


async def _infer(
    admitted: Admitted,
    payload: ImagePayload,
    query: LegacyInferenceQuery,
    dispatcher: RequestDispatcher,
    start: float,
) -> Response:
    """``admitted`` by the query's key or the bearer token (``query.api_key`` documents
    it), before the body was read."""
    drawn = query.format != "json"
    request = InferenceRequest(
        images=(payload,),
        # Segmentation decodes masks as Roboflow's route does by default ("accurate").
        params=InferenceParams(
            confidence=max(_as_fraction(query.confidence), _MIN_CONFIDENCE),
            iou_threshold=_as_fraction(query.overlap),
            max_detections=query.max_detections,
            keypoint_confidence=query.keypoint_confidence,
        ),
        options=preprocess_options(query),
        visualization=VisualizationStyle(labels=query.labels, stroke_width=query.stroke)
        if drawn
        else None,
        request_id=admitted.request_id,
    )
    result = await dispatcher.infer(admitted.model_id, None, request, admitted.weights_key)
    (image,) = result.images
    if query.format == "image":
        return Response(image.visualization, media_type="image/jpeg")
    return json_response(task_response(result.task, image, time.perf_counter() - start))


def _as_fraction(value: float) -> float:
    """Classic clients send percentages (40 for 0.4); values below 1 are fractions."""
    return value / 100 if value >= 1 else value


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_request(request: Request, model_id: str) -> ClassicJsonRequest:
    """The JSON body as the request of ``model_id``'s task; the path names the model."""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequestError("The body is sent as application/json but is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("A JSON body must be an object, as /infer/{task} takes it")
    try:
        return ClassicJsonRequest.model_validate({**body, "model_id": model_id})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _url_payload(query: LegacyInferenceQuery) -> ImagePayload | None:
    return ImagePayload(ImageType.URL, query.image) if query.image else None


async def _body_payload(request: Request, query: LegacyInferenceQuery) -> ImagePayload:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidImageError("A multipart body must carry the image in a part named 'file'")
        return ImagePayload(ImageType.BYTES, await upload.read())
    body = await request.body()
    if not body.strip():
        raise InvalidImageError(
            "No image: send it as the body, as a multipart part named 'file', or as image=<url>"
        )
    return payload_from_body(body, ImageType(query.image_type))


def payload_from_body(body: bytes, image_type: ImageType) -> ImagePayload:
    """An HTTP body that is itself the image, meant as ``image_type`` (base64 or numpy).

    Base64 text is ASCII, while JPEG, PNG, ``.npy`` and pickle data start with a byte
    above 0x7F: such bodies are taken as raw bytes (an image file, or the array's
    ``numpy.save`` or pickle bytes), so classic clients posting binary work too.
    """
    if body[:1] < b"\x80":
        return ImagePayload(image_type, body.decode("ascii", "replace"))
    return ImagePayload(ImageType.NUMPY if image_type is ImageType.NUMPY else ImageType.BYTES, body)
