"""The preprocessing deployment: CPU-bound decoding and resizing, scaled on its own.

It is also where pixels are drawn on: the ingress never holds an image. A request
that wants its predictions drawn decodes once with :meth:`Preprocessor.load`; the
decoded image stays in Ray's object store, referenced by the ingress, and reaches
:meth:`Preprocessor.prepare` and later :meth:`Preprocessor.visualize` from there.
"""

from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from serve_app.config import ServerSettings
from serve_app.errors import InvalidRequestError
from serve_app.messages import Detections, PreprocessedImage
from serve_app.preprocessing.image_loading import ImagePayload, LoadPolicy, load_image
from serve_app.preprocessing.options import (
    DEFAULT_OPTIONS,
    PreprocessOptions,
    VisualizationStyle,
)
from serve_app.preprocessing.pipeline import prepare_image, should_auto_orient
from serve_app.preprocessing.visualization import class_colors, draw_detections, encode_jpeg
from serve_app.weights import ModelPackage, ModelStore, Task


@serve.deployment
class Preprocessor:
    def __init__(self, settings: ServerSettings) -> None:
        self._store = ModelStore.from_settings(settings)
        self._policy = LoadPolicy.from_settings(settings)

    async def preprocess(
        self,
        image: ImagePayload,
        model_id: str,
        task: Task,
        api_key: str | None = None,
        options: PreprocessOptions = DEFAULT_OPTIONS,
    ) -> PreprocessedImage:
        """Decode ``image`` and shape it for ``model_id``, whose task must be ``task``."""
        package = await self._package(model_id, api_key, task)
        return await asyncio.to_thread(self._load_and_prepare, image, package, options)

    async def load(
        self,
        image: ImagePayload,
        model_id: str,
        task: Task,
        api_key: str | None = None,
        options: PreprocessOptions = DEFAULT_OPTIONS,
    ) -> np.ndarray:
        """Only decode ``image`` (HxWx3 uint8 BGR, EXIF-oriented as the model asks)."""
        package = await self._package(model_id, api_key, task)
        return await asyncio.to_thread(self._load, image, package, options)

    async def prepare(
        self,
        image_bgr: np.ndarray,
        model_id: str,
        api_key: str | None = None,
        options: PreprocessOptions = DEFAULT_OPTIONS,
    ) -> PreprocessedImage:
        """Shape an image :meth:`load` decoded for ``model_id``."""
        package = await self._package(model_id, api_key)
        return await asyncio.to_thread(prepare_image, image_bgr, package, options)

    async def visualize(
        self,
        image_bgr: np.ndarray,
        detections: Detections,
        model_id: str,
        style: VisualizationStyle,
        api_key: str | None = None,
    ) -> bytes:
        """JPEG of ``image_bgr`` (as :meth:`load` decoded it) with ``detections`` drawn
        in the model's class colours."""
        if not isinstance(detections, Detections):
            raise InvalidRequestError(
                f"Model {model_id}: only boxes and outlines can be drawn, and it predicts neither"
            )
        package = await self._package(model_id, api_key)
        colors = class_colors(detections.class_names, package.colors)
        drawn = await asyncio.to_thread(draw_detections, image_bgr, detections, colors, style)
        return await asyncio.to_thread(encode_jpeg, drawn)

    async def model_task(self, model_id: str, api_key: str | None = None) -> Task:
        """The task ``model_id`` was trained for, for routes that serve any task."""
        return (await self._package(model_id, api_key)).task

    async def _package(
        self, model_id: str, api_key: str | None, task: Task | None = None
    ) -> ModelPackage:
        """The package of ``model_id``, whose task must be ``task`` unless None."""
        package = await asyncio.to_thread(self._store.package, model_id, api_key)
        if task is not None and package.task is not task:
            raise InvalidRequestError(
                f"Model {model_id} is a {package.task.value} model and cannot serve "
                f"{task.value} requests"
            )
        return package

    def _load(
        self, image: ImagePayload, package: ModelPackage, options: PreprocessOptions
    ) -> np.ndarray:
        return load_image(image, self._policy, should_auto_orient(package, options))

    def _load_and_prepare(
        self, image: ImagePayload, package: ModelPackage, options: PreprocessOptions
    ) -> PreprocessedImage:
        return prepare_image(self._load(image, package, options), package, options)
