"""A fake engine for tests of the serving graph rather than of a network.

:class:`FakeEngineFactory` is handed to the application builder
(``build_graph(config, engines=FakeEngineFactory())``): the real Serve graph, real
HTTP, real packages (their specs), and engines that run no network, import neither
ONNX Runtime nor torch, and load at once.

Its answers depend on the image, so a test still proves that each image got its own:
like the fixture models (``tools/fixtures``), it reads the mean red, green and blue
levels of the network input, in [0, 1], and a class whose name names a colour
(``red-thing``, ``blue``) scores that colour's mean, any other class 0. A YOLOv8-layout
detector answers one box per class, at a fixed place of its own, scoring that class
only; a classifier's output per class is that score. Other heads are refused when the
model loads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from serve_app.core.families import model_family
from serve_app.core.ids import Task
from serve_app.core.spec import ModelPackage, ModelSpec
from serve_app.engines.factory import ModelEngines
from serve_app.engines.store import EngineStore
from serve_app.errors import ModelLoadError

NAME = "fake"
YOLOV8_FAMILIES = frozenset({"yolov8", "yolov9", "yolov11", "yolov12"})
CHANNELS = {"red": 0, "green": 1, "blue": 2}


def channel_means(images: np.ndarray) -> np.ndarray:
    """[B, H, W, 3] uint8 RGB → [B, 3] float32 mean levels in [0, 1]."""
    return np.asarray(images.mean(axis=(1, 2), dtype=np.float64) / 255.0, np.float32)


def class_scores(images: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """[B, C]: each class scores the mean of the colour its name names, else 0."""
    means = channel_means(images)
    scores = np.zeros((len(images), len(class_names)), np.float32)
    for class_id, name in enumerate(class_names):
        channel = next((c for colour, c in CHANNELS.items() if colour in name), None)
        if channel is not None:
            scores[:, class_id] = means[:, channel]
    return scores


@dataclass(frozen=True)
class FakeEngine:
    spec: ModelSpec
    name: str = NAME
    device: str = "cpu"

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        scores = class_scores(images, self.spec.class_names)
        if self.spec.task is Task.CLASSIFICATION:
            return [scores]
        return [self._yolov8_head(scores)]

    def _yolov8_head(self, scores: np.ndarray) -> np.ndarray:
        """[B, 4 + C, C]: candidate k is a small box of its own, scoring class k only."""
        count, num_classes = scores.shape
        width, height = self.spec.input_width, self.spec.input_height
        k = np.arange(num_classes, dtype=np.float32)
        boxes = np.stack(
            [
                (k + 1) * width / (num_classes + 1),
                np.full(num_classes, height / 2, np.float32),
                np.full(num_classes, width / (2 * (num_classes + 1)), np.float32),
                np.full(num_classes, height / 4, np.float32),
            ]
        )  # [4, C]
        head = np.zeros((count, 4 + num_classes, num_classes), np.float32)
        head[:, :4, :] = boxes
        diagonal = np.arange(num_classes)
        head[:, 4 + diagonal, diagonal] = scores
        return head


@dataclass(frozen=True)
class SlowFakeEngine(FakeEngine):
    """:class:`FakeEngine` whose passes take ``pass_s``, with a wider layout for a lone
    pass (``lone_threads``) as ONNX Runtime's on CPU has: it answers the same on both,
    and says which threads each has."""

    pass_s: float = 0.0
    lone_threads: int = 1

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        time.sleep(self.pass_s)
        return super().infer(images)

    def infer_alone(self, images: np.ndarray) -> list[np.ndarray]:
        return self.infer(images)

    def threads(self, alone: bool) -> int:
        return self.lone_threads if alone else 1


@dataclass(frozen=True)
class FakeEngineFactory:
    """Makes :class:`FakeEngine` s: picklable, so Serve hands it to model replicas.
    With ``pass_s`` or ``lone_threads``, :class:`SlowFakeEngine` s; ``load_s`` makes
    each load of the ``slow_loads`` models (of every model, where none are named) take
    that long, in the loading thread, as a real load."""

    pass_s: float = 0.0
    lone_threads: int = 0
    load_s: float = 0.0
    slow_loads: tuple[str, ...] = ()

    def __call__(self, package: ModelPackage, store: EngineStore | None = None) -> ModelEngines:
        spec = package.spec
        detector = spec.task is Task.OBJECT_DETECTION
        if not (
            spec.task is Task.CLASSIFICATION
            or (detector and model_family(spec.model_type) in YOLOV8_FAMILIES)
        ):
            raise ModelLoadError(
                f"Model {spec.model_id}: the fake engine answers YOLOv8 detectors and "
                f"classifiers, not {spec.task.value} {spec.model_type}"
            )
        if not self.slow_loads or str(spec.model_id) in self.slow_loads:
            time.sleep(self.load_s)
        if self.pass_s or self.lone_threads:
            return ModelEngines(
                SlowFakeEngine(spec, pass_s=self.pass_s, lone_threads=self.lone_threads)
            )
        return ModelEngines(FakeEngine(spec))
