"""Where a request's time goes: each stage of the request path, run alone in this
process on the benchmark's images, through the serve_app function that stage calls.

Stages run outside Ray Serve, so what is left of the served latency once they are
subtracted is Ray's share: HTTP proxy, handles, queueing, batch waits, transport.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from bench.reference import make_batches
from serve_app.api.responses import detection_response
from serve_app.api.schemas import ObjectDetectionRequest
from serve_app.app import image_limits
from serve_app.config import ServerSettings
from serve_app.core.engines import EngineOptions
from serve_app.core.predictions import Detections
from serve_app.core.requests import (
    ImageBatch,
    ImagePayload,
    ImageType,
    InferenceParams,
    PreprocessOptions,
)
from serve_app.core.spec import ModelPackage
from serve_app.engines.factory import OnnxEngineFactory
from serve_app.preprocessing.image_loading import load_image
from serve_app.preprocessing.prepare import prepare_image
from serve_app.replica.engine_switch import EngineSwitch
from serve_app.replica.loaded_model import LoadedModel

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class StageTiming:
    name: str
    mean_ms: float
    """Per image."""
    p50_ms: float
    calls: int
    note: str = ""
    in_sum: bool = True
    """False for a stage that replaces another (a batched forward), left out of totals."""


@dataclass
class _Profiler:
    repeats: int
    timings: list[StageTiming] = field(default_factory=list)

    def run(
        self,
        name: str,
        fn: Callable[[T], R],
        inputs: Sequence[T],
        images_per_call: int = 1,
        in_sum: bool = True,
    ) -> list[R]:
        """Call ``fn`` on every input, ``repeats`` times; returns the last pass's outputs."""
        durations: list[float] = []
        outputs: list[R] = []
        for _ in range(max(1, self.repeats)):
            outputs = []
            for item in inputs:
                start = time.perf_counter()
                outputs.append(fn(item))
                durations.append(time.perf_counter() - start)
        per_image_ms = np.array(durations) * 1e3 / images_per_call
        mean, p50 = float(per_image_ms.mean()), float(np.median(per_image_ms))
        self.timings.append(StageTiming(name, mean, p50, len(durations), in_sum=in_sum))
        return outputs

    def annotate(self, note: str) -> None:
        self.timings[-1] = replace(self.timings[-1], note=note)


def profile_stages(
    bodies: Sequence[bytes],
    package: ModelPackage,
    settings: ServerSettings,
    engine_options: EngineOptions,
    max_batch_size: int,
    repeats: int,
) -> list[StageTiming]:
    """Time the stages of one request in order, each on the previous stage's outputs."""
    model = LoadedModel.load(package, OnnxEngineFactory(engine_options, max_batch_size))
    limits = image_limits(settings)
    spec = package.spec
    auto_orient = spec.preprocessing.auto_orient
    params = InferenceParams()
    p = _Profiler(repeats)

    requests = p.run(
        "request JSON parse (ingress)", ObjectDetectionRequest.model_validate_json, bodies
    )
    payloads = [_image_payload(r) for r in requests]
    decoded = p.run("base64 + JPEG decode", lambda x: load_image(x, limits, auto_orient), payloads)
    options = PreprocessOptions()
    prepared = p.run(
        "resize / letterbox", lambda image: prepare_image(image, spec, options), decoded
    )
    singles = [ImageBatch(pixels[None], (frame,), (params,)) for pixels, frame in prepared]
    pickled = p.run("pickle.dumps ImageBatch of 1", _pickle_dumps, singles)
    p.annotate(f"{np.mean([len(b) for b in pickled]) / 1024:.1f} KiB each")
    p.run("pickle.loads ImageBatch of 1", pickle.loads, pickled)

    outputs = p.run("ORT forward, batch 1", lambda x: model.engine.infer(x.pixels), singles)
    if max_batch_size > 1:
        batches = make_batches([pixels for pixels, _ in prepared], max_batch_size)
        name = f"ORT forward, batch {max_batch_size}"
        p.run(name, model.engine.infer, batches, max_batch_size, in_sum=False)
        p.annotate("per image; instead of batch 1, not summed")

    # The replica's own run_batch, with the forward pass replayed: decoding alone is timed
    # through the same call path, whatever the decoder's signature.
    replay = _ReplayEngine()
    decode_only = replace(model, engines=EngineSwitch(replay))

    def decode(pair: tuple[list[np.ndarray], ImageBatch]) -> Detections:
        replay.outputs = pair[0]
        prediction = decode_only.run_batch(pair[1])[0]
        if not isinstance(prediction, Detections):
            raise TypeError(f"{spec.model_id} is not an object-detection model")
        return prediction

    pairs = list(zip(outputs, singles, strict=True))
    detections = p.run("decode + NMS", decode, pairs)
    p.run("JSON response build", _response_json, detections)
    p.annotate(f"{np.mean([len(d) for d in detections]):.1f} predictions each")
    return p.timings


class _ReplayEngine:
    """An engine that answers with outputs computed earlier."""

    name = "replay"
    device = "cpu"
    outputs: list[np.ndarray]

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        return self.outputs


def _image_payload(request: ObjectDetectionRequest) -> ImagePayload:
    image = request.image[0] if isinstance(request.image, list) else request.image
    return ImagePayload(ImageType(image.type), image.value)


def _pickle_dumps(image: ImageBatch) -> bytes:
    # In-band protocol 5: Ray passes NumPy buffers out of band, so this is an upper bound.
    return pickle.dumps(image, protocol=5)


def _response_json(detections: Detections) -> str:
    return detection_response(detections, 0.0).model_dump_json(by_alias=True)
