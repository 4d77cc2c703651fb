"""The preprocessing deployment: CPU-bound decoding and resizing, scaled on its own."""

from __future__ import annotations

import asyncio

from ray import serve

from serve_app.config import ServerSettings
from serve_app.errors import InvalidRequestError
from serve_app.messages import PreprocessedImage
from serve_app.preprocessing.image_loading import ImagePayload, LoadPolicy, load_image
from serve_app.preprocessing.pipeline import prepare_image
from serve_app.weights import ModelPackage, ModelStore, Task


@serve.deployment
class Preprocessor:
    def __init__(self, settings: ServerSettings) -> None:
        self._store = ModelStore.from_settings(settings)
        self._policy = LoadPolicy.from_settings(settings)

    async def preprocess(
        self, image: ImagePayload, model_id: str, task: Task, api_key: str | None = None
    ) -> PreprocessedImage:
        """Decode ``image`` and shape it for ``model_id``, whose task must be ``task``."""
        package = await asyncio.to_thread(self._store.package, model_id, api_key)
        if package.task is not task:
            raise InvalidRequestError(
                f"Model {model_id} is a {package.task.value} model and cannot serve "
                f"{task.value} requests"
            )
        return await asyncio.to_thread(self._prepare, image, package)

    def _prepare(self, image: ImagePayload, package: ModelPackage) -> PreprocessedImage:
        auto_orient = package.preprocessing.auto_orient
        return prepare_image(load_image(image, self._policy, auto_orient), package)
