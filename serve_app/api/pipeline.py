"""The ingress's client of the preprocessing and model deployments."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from ray.serve.handle import DeploymentHandle

from serve_app.api.schemas import InferenceImage
from serve_app.messages import DecodeParams, Detections
from serve_app.preprocessing.image_loading import ImagePayload, ImageType
from serve_app.weights import Task


@dataclass
class InferencePipeline:
    preprocessor: DeploymentHandle
    model: DeploymentHandle
    server_id: str

    async def run(
        self,
        image: InferenceImage,
        model_id: str,
        task: Task,
        params: DecodeParams,
        api_key: str | None,
    ) -> tuple[Detections, float]:
        """Detections for one image and the seconds it took.

        The preprocessing response is handed to the model deployment unresolved, so
        the tensor goes replica to replica without passing through the ingress.
        """
        start = time.perf_counter()
        payload = ImagePayload(ImageType(image.type), image.value)
        prepared = self.preprocessor.preprocess.remote(payload, model_id, task, api_key)
        model = self.model.options(multiplexed_model_id=model_id)
        detections: Detections = await model.infer.remote(prepared, params, api_key)
        return detections, time.perf_counter() - start


def get_pipeline(request: Request) -> InferencePipeline:
    """FastAPI dependency: the pipeline of the ingress replica serving this request."""
    pipeline: InferencePipeline = request.app.state.pipeline
    return pipeline
