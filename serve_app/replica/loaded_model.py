"""A model ready to serve: package metadata × engine × decoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from serve_app.config import EngineConfig
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import AnyDecoder, decoder_for
from serve_app.engines import Engine, create_engine
from serve_app.messages import Prediction, PreprocessedImage, TaskParams
from serve_app.weights import ModelPackage


@dataclass
class LoadedModel:
    package: ModelPackage
    engine: Engine
    decoder: AnyDecoder
    head: ModelHead

    @classmethod
    def load(cls, package: ModelPackage, engine_config: EngineConfig) -> LoadedModel:
        decoder = decoder_for(package)  # fails fast, before the weights are loaded
        head = ModelHead.from_package(package)
        return cls(package, create_engine(engine_config, package), decoder, head)

    def run_batch(
        self, images: Sequence[PreprocessedImage], params: Sequence[TaskParams]
    ) -> list[Prediction]:
        """One forward pass over the batch, then per-image decoding.

        Every request in a batch is for this model, hence for its task: ``params`` are
        that task's options (the preprocessing deployment refused any other task).
        """
        outputs = self.engine.infer(np.stack([image.pixels for image in images]))
        return [
            self.decoder([output[i] for output in outputs], image.frame, p, self.head)
            for i, (image, p) in enumerate(zip(images, params, strict=True))
        ]
