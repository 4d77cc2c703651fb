"""The fake engine the graph tests run on answers each image from that image, through
the real decoders: a test that uses it can still tell images apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from serve_app.core.frames import FrameTransform
from serve_app.core.ids import ModelId
from serve_app.core.predictions import Classification, Detections
from serve_app.core.requests import ImageBatch, InferenceParams
from serve_app.errors import ModelLoadError
from serve_app.replica.loaded_model import LoadedModel
from serve_app.weights.package import read_package
from tests.fakes import FakeEngineFactory


def loaded(model_id: str, fixture_models_dir: Path) -> LoadedModel:
    package = read_package(ModelId.parse(model_id), fixture_models_dir / model_id)
    return LoadedModel.load(package, FakeEngineFactory())


def batch_of(levels: list[tuple[int, int, int]], size: tuple[int, int]) -> ImageBatch:
    width, height = size
    pixels = np.stack([np.full((height, width, 3), rgb, np.uint8) for rgb in levels])
    frames = (FrameTransform(width, height),) * len(levels)
    return ImageBatch(pixels, frames, (InferenceParams(confidence=0.1),) * len(levels))


def test_a_detector_scores_each_image_by_its_own_colours(fixture_models_dir: Path) -> None:
    model = loaded("fixture-yolov8/3", fixture_models_dir)
    levels = [(255, 0, 0), (0, 128, 0), (60, 0, 200)]  # classes: red-thing, blue-thing
    size = (model.spec.input_width, model.spec.input_height)
    answers = model.run_batch(batch_of(levels, size))
    scores = []
    for answer in answers:
        assert isinstance(answer, Detections)
        scores.append(dict(zip(answer.class_id.tolist(), answer.confidence.tolist(), strict=True)))
    assert scores[0] == pytest.approx({0: 1.0})
    assert scores[1] == {}
    assert scores[2] == pytest.approx({0: 60 / 255, 1: 200 / 255})


def test_a_classifier_outputs_the_channel_means(fixture_models_dir: Path) -> None:
    model = loaded("fixture-classification/1", fixture_models_dir)
    (answer,) = model.run_batch(batch_of([(51, 102, 204)], (320, 320)))
    assert isinstance(answer, Classification)
    expected = np.exp([0.2, 0.4, 0.8]) / np.exp([0.2, 0.4, 0.8]).sum()
    np.testing.assert_allclose(answer.scores, expected, atol=1e-6)


def test_other_heads_are_refused_when_the_model_loads(fixture_models_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="fake engine"):
        loaded("fixture-yolov5/1", fixture_models_dir)
