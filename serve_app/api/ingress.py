"""The HTTP ingress: validates requests, fans images out to the pipeline, shapes replies.

It never touches pixels: each image's payload goes to the preprocessing deployment,
whose result is handed to the model deployment as an unresolved response, so the
preprocessed tensor travels replica to replica without passing through here.
"""

# No ``from __future__ import annotations`` here: serve.ingress re-wraps the route
# methods, and FastAPI must see real types, not strings, to read request bodies.
import asyncio
import time
import uuid

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app import __version__
from serve_app.api.errors import install_error_handlers
from serve_app.api.responses import detection_response
from serve_app.api.schemas import (
    ErrorResponse,
    InferenceImage,
    ObjectDetectionRequest,
    ObjectDetectionResponse,
    ServerInfo,
)
from serve_app.messages import DecodeParams, Detections
from serve_app.preprocessing.image_loading import ImagePayload, ImageType
from serve_app.weights import Task

app = FastAPI(
    title="rfserve",
    version=__version__,
    description="Roboflow-compatible computer-vision inference on Ray Serve.",
    responses={
        400: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        500: {"model": ErrorResponse},
    },
)
install_error_handlers(app)


@serve.deployment
@serve.ingress(app)
class Ingress:
    def __init__(self, preprocessor: DeploymentHandle, model: DeploymentHandle) -> None:
        self._preprocessor = preprocessor
        self._model = model
        self._uuid = str(uuid.uuid4())

    async def _run(
        self, image: InferenceImage, model_id: str, task: Task, params: DecodeParams,
        api_key: str | None,
    ) -> tuple[Detections, float]:
        start = time.perf_counter()
        payload = ImagePayload(ImageType(image.type), image.value)
        prepared = self._preprocessor.preprocess.remote(payload, model_id, task, api_key)
        model = self._model.options(multiplexed_model_id=model_id)
        detections: Detections = await model.infer.remote(prepared, params)
        return detections, time.perf_counter() - start

    @app.post(
        "/infer/object_detection",
        response_model=ObjectDetectionResponse | list[ObjectDetectionResponse],
        response_model_by_alias=True,
        summary="Detect objects in one image or a list of images",
    )
    async def infer_object_detection(
        self, request: ObjectDetectionRequest
    ) -> ObjectDetectionResponse | list[ObjectDetectionResponse]:
        params = DecodeParams(
            confidence=request.confidence,
            iou_threshold=request.iou_threshold,
            class_agnostic_nms=request.class_agnostic_nms,
            class_filter=tuple(request.class_filter) if request.class_filter is not None else None,
            max_detections=request.max_detections,
        )
        images = request.image if isinstance(request.image, list) else [request.image]
        results = await asyncio.gather(
            *(
                self._run(image, request.model_id, Task.OBJECT_DETECTION, params, request.api_key)
                for image in images
            )
        )
        responses = [detection_response(d, elapsed) for d, elapsed in results]
        return responses if isinstance(request.image, list) else responses[0]

    @app.get("/info", response_model=ServerInfo)
    async def info(self) -> ServerInfo:
        return ServerInfo(name="rfserve", version=__version__, uuid=self._uuid)

    @app.get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/readiness")
    async def readiness(self) -> dict[str, str]:
        return {"status": "ready"}
