"""The ingress's client of the preprocessing and model deployments."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from ray.serve.handle import DeploymentHandle

from serve_app.api.schemas import InferenceImage
from serve_app.messages import Prediction, TaskParams
from serve_app.preprocessing.image_loading import ImagePayload, ImageType
from serve_app.preprocessing.options import (
    DEFAULT_OPTIONS,
    PreprocessOptions,
    VisualizationStyle,
)
from serve_app.weights import Task


@dataclass(frozen=True)
class InferenceOutcome:
    """What the deployments answered for one image."""

    prediction: Prediction
    elapsed_s: float
    """Server-side seconds, from receiving the payload to the last answer."""
    visualization: bytes | None = None
    """JPEG of the client's image with the predictions drawn, when asked for."""


@dataclass
class InferencePipeline:
    preprocessor: DeploymentHandle
    model: DeploymentHandle
    server_id: str

    async def run(
        self,
        image: InferenceImage | ImagePayload,
        model_id: str,
        task: Task,
        params: TaskParams,
        api_key: str | None,
        options: PreprocessOptions = DEFAULT_OPTIONS,
        visualization: VisualizationStyle | None = None,
    ) -> InferenceOutcome:
        """Predictions for one image; drawn on it too when ``visualization`` is given.

        Deployment responses are handed on unresolved, so tensors and images go
        replica to replica through the object store, never through the ingress.
        """
        start = time.perf_counter()
        payload = (
            image
            if isinstance(image, ImagePayload)
            else ImagePayload(ImageType(image.type), image.value)
        )
        model = self.model.options(multiplexed_model_id=model_id)
        if visualization is None:
            prepared = self.preprocessor.preprocess.remote(
                payload, model_id, task, api_key, options
            )
            prediction: Prediction = await model.infer.remote(prepared, params, api_key)
            return InferenceOutcome(prediction, time.perf_counter() - start)
        # Decoded once: the same image is shaped for the network and drawn on.
        decoded = self.preprocessor.load.remote(payload, model_id, task, api_key, options)
        prepared = self.preprocessor.prepare.remote(decoded, model_id, api_key, options)
        prediction = await model.infer.remote(prepared, params, api_key)
        drawn: bytes = await self.preprocessor.visualize.remote(
            decoded, prediction, model_id, visualization, api_key
        )
        return InferenceOutcome(prediction, time.perf_counter() - start, drawn)

    async def model_task(self, model_id: str, api_key: str | None) -> Task:
        """The task of ``model_id``, for routes that serve whatever the model does."""
        task: Task = await self.preprocessor.model_task.remote(model_id, api_key)
        return task


def get_pipeline(request: Request) -> InferencePipeline:
    """FastAPI dependency: the pipeline of the ingress replica serving this request."""
    pipeline: InferencePipeline = request.app.state.pipeline
    return pipeline
