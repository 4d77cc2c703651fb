"""A model ready to serve: package metadata × engine × decoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from serve_app.config import EngineConfig
from serve_app.decoders.base import Decoder
from serve_app.decoders.registry import decoder_for
from serve_app.engines import Engine, create_engine
from serve_app.messages import DecodeParams, Detections, PreprocessedImage
from serve_app.weights import ModelPackage


@dataclass
class LoadedModel:
    package: ModelPackage
    engine: Engine
    decoder: Decoder

    @classmethod
    def load(cls, package: ModelPackage, engine_config: EngineConfig) -> LoadedModel:
        decoder = decoder_for(package)  # fails fast, before the weights are loaded
        return cls(package, create_engine(engine_config, package), decoder)

    def run_batch(
        self, images: Sequence[PreprocessedImage], params: Sequence[DecodeParams]
    ) -> list[Detections]:
        """One forward pass over the batch, then per-image decoding."""
        outputs = self.engine.infer(np.stack([image.pixels for image in images]))
        names = self.package.class_names
        return [
            self.decoder([output[i] for output in outputs], image.frame, p, names)
            for i, (image, p) in enumerate(zip(images, params, strict=True))
        ]
