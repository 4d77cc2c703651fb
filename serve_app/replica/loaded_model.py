"""A model ready to serve: spec × engine × decoder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from serve_app.core.predictions import Prediction
from serve_app.core.requests import ImageBatch
from serve_app.core.spec import ModelPackage, ModelSpec
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import AnyDecoder, decoder_for
from serve_app.engines.base import DeviceEngine, Engine, LoneCapable, images_to_device
from serve_app.observability.metrics import server_metrics
from serve_app.replica.engine_switch import EngineSwitch
from serve_app.replica.memory import measured_footprint

if TYPE_CHECKING:
    from serve_app.device.decoding import DeviceDecoder
    from serve_app.engines.factory import EngineFactory
    from serve_app.engines.store import EngineStore


@dataclass
class LoadedModel:
    spec: ModelSpec
    engines: EngineSwitch
    decoder: AnyDecoder
    head: ModelHead
    footprint_bytes: int = 0
    """Memory the model holds in its replica, measured when it loaded (``memory.py``)."""

    @classmethod
    def load(
        cls,
        package: ModelPackage,
        engines: EngineFactory,
        store: EngineStore | None = None,
    ) -> LoadedModel:
        """The model on the engine it starts on; :meth:`EngineSwitch.start` builds the
        optimised one, where the factory gave one to build."""
        decoder = decoder_for(package.spec)  # fails fast, before the weights are loaded
        made, footprint = measured_footprint(
            lambda: engines(package, store), _size_of(package.weights_path)
        )
        switch = EngineSwitch(made.live, made.build, store, made.fallback)
        return cls(package.spec, switch, decoder, ModelHead.from_spec(package.spec), footprint)

    @cached_property
    def device_decoder(self) -> DeviceDecoder | None:
        """The head's decoder on the device, if it has one: looked up on the first
        batch that runs on a device (it imports torch), then kept."""
        from serve_app.device.decoding import device_decoder_for

        return device_decoder_for(self.spec)

    @property
    def engine(self) -> Engine:
        """The engine serving now."""
        return self.engines.live

    def pass_threads(self, alone: bool) -> int | None:
        """Intra-op threads a pass runs on now (0: the runtime's choice); None where
        the engine does not say."""
        engine = self.engines.live
        return engine.threads(alone) if isinstance(engine, LoneCapable) else None

    def run_batch(self, batch: ImageBatch, alone: bool = False) -> list[Prediction]:
        """One forward pass over the batch, then per-image decoding; ``alone``: no
        other pass runs in the replica, so an engine with a wider layout for that
        (:class:`LoneCapable`) uses it.

        Every image is for this model, hence for its task: the preprocessing stage
        refused requests of any other task. The engine is read once, so an engine
        swapped in meanwhile serves from the next batch on.
        """
        engine = self.engines.live
        metrics, start = server_metrics(), time.perf_counter()
        if isinstance(engine, DeviceEngine):
            predictions = self._run_on_device(engine, batch)  # decoding included
            metrics.stage_seconds.observe(time.perf_counter() - start, tags={"stage": "forward"})
            return predictions
        if alone and isinstance(engine, LoneCapable):
            outputs = engine.infer_alone(batch.pixels)
        else:
            outputs = engine.infer(batch.pixels)
        decoding = time.perf_counter()
        predictions = self._decode_on_host(outputs, batch)
        metrics.stage_seconds.observe(decoding - start, tags={"stage": "forward"})
        metrics.stage_seconds.observe(time.perf_counter() - decoding, tags={"stage": "postprocess"})
        return predictions

    def _run_on_device(self, engine: DeviceEngine, batch: ImageBatch) -> list[Prediction]:
        """The GPU data path: the batch crosses to the device once, as uint8; the
        outputs are decoded there where the head has a device reader."""
        import torch

        outputs = engine.forward(images_to_device(batch.pixels, engine.device))
        decoder = self.device_decoder
        if decoder is not None and decoder.fits(outputs, self.head):
            with torch.inference_mode():
                return list(decoder(outputs, batch.frames, batch.params, self.head))
        return self._decode_on_host([o.cpu().numpy() for o in outputs], batch)

    def _decode_on_host(self, outputs: list[np.ndarray], batch: ImageBatch) -> list[Prediction]:
        return [
            self.decoder([output[i] for output in outputs], frame, params, self.head)
            for i, (frame, params) in enumerate(zip(batch.frames, batch.params, strict=True))
        ]


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
