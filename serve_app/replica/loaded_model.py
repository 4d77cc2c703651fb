"""A model ready to serve: spec × engine × decoder."""

from __future__ import annotations

import time
from dataclasses import dataclass

from serve_app.config import EngineConfig
from serve_app.core.predictions import Prediction
from serve_app.core.requests import ImageBatch
from serve_app.core.spec import ModelSpec
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import AnyDecoder, decoder_for
from serve_app.engines import Engine, create_engine
from serve_app.observability.metrics import server_metrics
from serve_app.weights import ModelPackage


@dataclass
class LoadedModel:
    spec: ModelSpec
    engine: Engine
    decoder: AnyDecoder
    head: ModelHead

    @classmethod
    def load(cls, package: ModelPackage, engine_config: EngineConfig) -> LoadedModel:
        decoder = decoder_for(package.spec)  # fails fast, before the weights are loaded
        engine = create_engine(engine_config, package)
        return cls(package.spec, engine, decoder, ModelHead.from_spec(package.spec))

    def run_batch(self, batch: ImageBatch) -> list[Prediction]:
        """One forward pass over the batch, then per-image decoding.

        Every image is for this model, hence for its task: the preprocessing stage
        refused requests of any other task.
        """
        metrics, start = server_metrics(), time.perf_counter()
        outputs = self.engine.infer(batch.pixels)
        decoding = time.perf_counter()
        predictions = [
            self.decoder([output[i] for output in outputs], frame, params, self.head)
            for i, (frame, params) in enumerate(zip(batch.frames, batch.params, strict=True))
        ]
        metrics.stage_seconds.observe(decoding - start, tags={"stage": "forward"})
        metrics.stage_seconds.observe(time.perf_counter() - decoding, tags={"stage": "postprocess"})
        return predictions
