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
import pydantic_core

from bench.reference import make_batches
from serve_app.api.responses import detection_response
from serve_app.api.schemas import ObjectDetectionRequest
from serve_app.app import image_limits
from serve_app.config import ServerSettings
from serve_app.core.engines import EngineOptions
from serve_app.core.frames import ResizeMode
from serve_app.core.predictions import Detections
from serve_app.core.requests import (
    ImageBatch,
    ImagePayload,
    ImageType,
    InferenceParams,
    PreprocessOptions,
)
from serve_app.core.spec import ModelPackage, ModelSpec
from serve_app.engines.factory import OnnxEngineFactory
from serve_app.preprocessing.image_loading import (
    decode_base64,
    decode_image_bytes,
    decode_payload,
    read_header,
)
from serve_app.preprocessing.prepare import decode_floor, prepare_decoded
from serve_app.preprocessing.steps import adjust_contrast, take_static_crop, to_grayscale
from serve_app.preprocessing.transforms import resize_to_input
from serve_app.replica.engine_switch import EngineSwitch
from serve_app.replica.loaded_model import LoadedModel

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class StageTiming:
    name: str
    mean_ms: float
    """Per image, wall clock."""
    p50_ms: float
    calls: int
    note: str = ""
    in_sum: bool = True
    """False for a stage that replaces another (a batched forward), left out of totals."""
    cpu_p50_ms: float | None = None
    """Per image, CPU time of this process (every thread): on a busy machine, what the
    stage costs where wall time also counts the waits for a core."""


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
        cpu: list[float] = []
        outputs: list[R] = []
        if inputs:  # first calls build caches (imports, allocations): not timed
            fn(inputs[0])
        for _ in range(max(1, self.repeats)):
            outputs = []
            for item in inputs:
                start, start_cpu = time.perf_counter(), time.process_time()
                outputs.append(fn(item))
                durations.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
        per_image_ms = np.array(durations) * 1e3 / images_per_call
        mean, p50 = float(per_image_ms.mean()), float(np.median(per_image_ms))
        cpu_p50 = float(np.median(cpu)) * 1e3 / images_per_call
        self.timings.append(
            StageTiming(name, mean, p50, len(durations), in_sum=in_sum, cpu_p50_ms=cpu_p50)
        )
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

    requests = p.run("request JSON parse (ingress)", _parse_request, bodies)
    payloads = [_image_payload(r) for r in requests]
    files = p.run("base64 decode", lambda x: decode_base64(x.value), payloads)
    p.annotate(f"{np.mean([len(f) for f in files]) / 1024:.0f} KiB files")
    p.run("header check (Pillow)", read_header, files, in_sum=False)
    p.annotate("inside the decode below")
    whole = p.run("JPEG decode, whole", lambda f: decode_image_bytes(f, auto_orient), files)
    floor = decode_floor(spec, PreprocessOptions())
    as_bytes = [ImagePayload(ImageType.BYTES, f) for f in files]
    decoded = p.run(
        "JPEG decode as served (header check included)",
        lambda x: decode_payload(x, limits, auto_orient, floor),
        as_bytes,
    )
    reduced = [d for d in decoded if d.reduced]
    if reduced:
        p.annotate(
            f"{len(reduced)} of {len(decoded)} at a reduced scale, "
            f"{reduced[0].pixels.shape[1]}x{reduced[0].pixels.shape[0]}; instead of the whole"
        )
        p.timings[-2] = replace(p.timings[-2], in_sum=False)
    else:
        p.timings[-1] = replace(p.timings[-1], in_sum=False)
    options = PreprocessOptions()
    p.run("crop and colour steps", lambda image: _steps(image.pixels, spec), decoded, in_sum=False)
    p.annotate("inside the resize stage below")
    p.run(
        "flip whole image then resize (before the fix)",
        lambda image: resize_to_input(
            image[:, :, ::-1], spec.input_width, spec.input_height, _mode(spec)
        ),
        whole,
        in_sum=False,
    )
    p.annotate("not summed")
    prepared = p.run(
        "resize and pad, then BGR to RGB", lambda x: prepare_decoded(x, spec, options), decoded
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


def _steps(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's crop and colour steps, as ``prepare_image`` runs them."""
    steps = spec.preprocessing
    if steps.static_crop is not None:
        image = take_static_crop(image, steps.static_crop)[0]
    if steps.contrast is not None:
        image = adjust_contrast(image, steps.contrast)
    return to_grayscale(image) if steps.grayscale else image


def _mode(spec: ModelSpec) -> ResizeMode:
    resize = spec.preprocessing.resize
    return resize.mode if resize is not None else ResizeMode.STRETCH


def _pickle_dumps(image: ImageBatch) -> bytes:
    # In-band protocol 5: Ray passes NumPy buffers out of band, so this is an upper bound.
    return pickle.dumps(image, protocol=5)


def _parse_request(body: bytes) -> ObjectDetectionRequest:
    """As the ingress parses a body (``api/json_body.py``), then validates it."""
    return ObjectDetectionRequest.model_validate(pydantic_core.from_json(body))


def _response_json(detections: Detections) -> str:
    return detection_response(detections, 0.0).model_dump_json(by_alias=True)
