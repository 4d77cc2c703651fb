"""The preprocessing stage: a group of requests for one model in, their results out.

Every image of the group is decoded and shaped for the network in parallel on a small
thread pool (OpenCV and the base64 decoder release the GIL), the whole group goes to
the model stage as one batch, and the images that asked for a drawing get their
predictions drawn here, where the decoded pixels already are. The preprocessing
deployment runs one of these in front of a handle to the model deployment; the fused
composition runs one in front of the model host itself.

A model's spec (task, input size, steps, class names and colours) comes from that
model stage, which loads the model anyway, and is kept here: this stage never reads a
model package, so it needs neither the weight sources nor their credentials, and a
node running only preprocessing never downloads a network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from serve_app.batching import HopStats
from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import (
    Classification,
    ImageResult,
    Prediction,
    RequestResult,
)
from serve_app.core.requests import (
    ImageBatch,
    ImagePayload,
    InferenceRequest,
    PreprocessOptions,
    RequestGroup,
    VisualizationStyle,
)
from serve_app.core.spec import ModelSpec
from serve_app.core.stages import ModelStage
from serve_app.errors import InvalidRequestError
from serve_app.observability.metrics import server_metrics
from serve_app.preprocessing.config import PreprocessConfig
from serve_app.preprocessing.image_loading import ImageLimits, decode_payload
from serve_app.preprocessing.prepare import decode_floor, prepare_decoded, should_auto_orient
from serve_app.preprocessing.visualization import (
    class_colors,
    draw_classification,
    draw_detections,
    encode_jpeg,
)


@dataclass(frozen=True)
class _Prepared:
    pixels: np.ndarray
    frame: FrameTransform
    decoded: np.ndarray | None
    """The image as decoded (BGR), kept only where it is to be drawn on."""


class PreprocessStage:
    def __init__(self, config: PreprocessConfig) -> None:
        self._limits = config.images
        self._specs: dict[str, ModelSpec] = {}
        # Parallelism comes from the pool; OpenCV's own threads would only contend.
        cv2.setNumThreads(1)
        self._pool = ThreadPoolExecutor(config.threads, thread_name_prefix="preprocess")
        # Counted only: the ingress and the model host record these hops' metrics.
        self.sent = HopStats()
        """Calls to the model stage: the hop into the model replica."""
        self.received = HopStats()
        """Groups run: the hop into this stage."""

    async def run_group(
        self, group: RequestGroup, model: ModelStage
    ) -> list[RequestResult | BaseException]:
        """One result per request of ``group``: an image that cannot be decoded fails
        its own request, a model that cannot serve the group fails all of them."""
        self.received.record(len(group.requests), group.image_count)
        spec = await self._spec(group, model)
        start = time.perf_counter()
        prepared = await self._prepare_all(group.requests, spec)
        server_metrics().stage_seconds.observe(
            time.perf_counter() - start, tags={"stage": "preprocess"}
        )
        ready = [
            (request, images)
            for request, images in zip(group.requests, prepared, strict=True)
            if not isinstance(images, BaseException)
        ]
        predictions: list[Prediction] = []
        if ready:
            batch = ImageBatch(
                np.stack([image.pixels for _, images in ready for image in images]),
                tuple(image.frame for _, images in ready for image in images),
                tuple(request.params for request, images in ready for _ in images),
            )
            self.sent.record(len(ready), len(batch))
            predictions = await model.infer(group.model_id, batch, group.api_key)
        results: list[RequestResult | BaseException] = []
        position = 0
        for request, images in zip(group.requests, prepared, strict=True):
            if isinstance(images, BaseException):
                results.append(images)
                continue
            own = predictions[position : position + len(images)]
            position += len(images)
            results.append(await self._result(request, spec, images, own))
        return results

    def stats(self) -> dict[str, object]:
        return {"received": self.received.snapshot(), "sent": self.sent.snapshot()}

    async def _spec(self, group: RequestGroup, model: ModelStage) -> ModelSpec:
        spec = self._specs.get(group.model_id)
        if spec is None:
            spec = self._specs[group.model_id] = await model.spec(group.model_id, group.api_key)
        if group.task is not None and spec.task is not group.task:
            raise InvalidRequestError(
                f"Model {group.model_id} is a {spec.task.value} model and cannot serve "
                f"{group.task.value} requests"
            )
        return spec

    async def _prepare_all(
        self, requests: Sequence[InferenceRequest], spec: ModelSpec
    ) -> list[list[_Prepared] | BaseException]:
        """Each request's images prepared, or the first error among them."""
        loop = asyncio.get_running_loop()
        jobs = [
            [
                loop.run_in_executor(
                    self._pool,
                    _prepare,
                    image,
                    spec,
                    request.options,
                    self._limits,
                    request.visualization is not None,
                )
                for image in request.images
            ]
            for request in requests
        ]
        outcomes = await asyncio.gather(
            *(job for request_jobs in jobs for job in request_jobs), return_exceptions=True
        )
        prepared: list[list[_Prepared] | BaseException] = []
        position = 0
        for request_jobs in jobs:
            own = outcomes[position : position + len(request_jobs)]
            position += len(request_jobs)
            error = next((o for o in own if isinstance(o, BaseException)), None)
            prepared.append(error if error is not None else list(own))  # type: ignore[arg-type]
        return prepared

    async def _result(
        self,
        request: InferenceRequest,
        spec: ModelSpec,
        images: list[_Prepared],
        predictions: list[Prediction],
    ) -> RequestResult | BaseException:
        style = request.visualization
        if style is None:
            return RequestResult(spec.task, tuple(ImageResult(p) for p in predictions))
        loop = asyncio.get_running_loop()
        try:
            drawn = await asyncio.gather(
                *(
                    loop.run_in_executor(self._pool, _draw, image.decoded, p, spec, style)
                    for image, p in zip(images, predictions, strict=True)
                )
            )
        except Exception as exc:
            return exc
        return RequestResult(
            spec.task,
            tuple(ImageResult(p, jpeg) for p, jpeg in zip(predictions, drawn, strict=True)),
        )


def _prepare(
    image: ImagePayload,
    spec: ModelSpec,
    options: PreprocessOptions,
    limits: ImageLimits,
    keep_decoded: bool,
) -> _Prepared:
    # A drawing is made on the whole image; the network alone may take a reduced one.
    at_least = None if keep_decoded else decode_floor(spec, options)
    decoded = decode_payload(image, limits, should_auto_orient(spec, options), at_least)
    pixels, frame = prepare_decoded(decoded, spec, options)
    return _Prepared(pixels, frame, decoded.pixels if keep_decoded else None)


def _draw(
    image_bgr: np.ndarray | None,
    prediction: Prediction,
    spec: ModelSpec,
    style: VisualizationStyle,
) -> bytes:
    """JPEG of the decoded image with ``prediction`` drawn in the model's class colours."""
    if image_bgr is None:
        raise InvalidRequestError(f"Model {spec.model_id}: the image was not kept to draw on")
    colors = class_colors(prediction.class_names, spec.colors)
    if isinstance(prediction, Classification):
        return encode_jpeg(draw_classification(image_bgr, prediction, colors, style))
    return encode_jpeg(draw_detections(image_bgr, prediction, colors, style))
