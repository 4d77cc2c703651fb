"""Classification heads: scores as the package declares them, and which classes pass
the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from serve_app.core.frames import FrameTransform
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ClassificationActivation
from serve_app.decoders.base import ModelHead
from serve_app.decoders.classification import decode_classification
from serve_app.errors import ModelLoadError

CLASSES = ("a", "b", "c")
FRAME = FrameTransform(64, 48)


SIGMOID = ClassificationActivation.SIGMOID


def classify(
    logits: list[float],
    multilabel: bool,
    confidence: float = 0.4,
    activation: ClassificationActivation | None = None,
):
    if activation is None:
        activation = SIGMOID if multilabel else ClassificationActivation.SOFTMAX
    head = ModelHead(CLASSES[: len(logits)], 32, 32, multilabel, activation)
    output = np.array(logits, np.float32)
    return decode_classification([output], FRAME, InferenceParams(confidence), head)


def test_single_label_scores_are_a_softmax_and_passing_classes_come_best_first() -> None:
    result = classify([0.0, 2.0, 1.0], multilabel=False, confidence=0.2)
    exp = np.exp([0.0, 2.0, 1.0])
    assert result.scores == pytest.approx(exp / exp.sum(), abs=1e-6)
    assert result.predicted.tolist() == [1, 2]
    assert (result.image_width, result.image_height) == (64, 48)
    assert not result.multilabel and result.class_names == CLASSES


def test_multi_label_scores_are_independent_sigmoids() -> None:
    result = classify([0.0, 3.0, -3.0], multilabel=True, confidence=0.4)
    assert result.scores == pytest.approx(1 / (1 + np.exp([0.0, -3.0, 3.0])), abs=1e-6)
    assert result.predicted.tolist() == [1, 0]


@pytest.mark.parametrize("multilabel", [True, False])
def test_outputs_without_an_activation_are_reported_as_they_are(multilabel: bool) -> None:
    none = ClassificationActivation.NONE
    result = classify([1.0, 0.0, 0.7], multilabel, confidence=0.5, activation=none)
    assert result.scores.tolist() == pytest.approx([1.0, 0.0, 0.7])
    assert result.predicted.tolist() == [0, 2]


@pytest.mark.parametrize(
    ("multilabel", "predicted"),
    [(False, [0, 1]), (True, [])],  # at or above for single-label, above for multi-label
)
def test_a_score_equal_to_the_threshold(multilabel: bool, predicted: list[int]) -> None:
    # Two equal logits: softmax 0.5 each; sigmoid(0) is 0.5 too.
    result = classify([0.0, 0.0], multilabel=multilabel, confidence=0.5)
    assert result.predicted.tolist() == predicted


def test_all_below_threshold_reports_no_class_but_keeps_every_score() -> None:
    result = classify([1.0, 1.0, 1.0], multilabel=False, confidence=0.9)
    assert result.predicted.tolist() == [] and len(result.scores) == 3


def test_single_class_model() -> None:
    assert classify([-5.0], multilabel=False).scores.tolist() == [1.0]
    assert classify([-5.0], multilabel=True).predicted.tolist() == []


def test_extreme_logits_stay_finite() -> None:
    assert np.isfinite(classify([1e4, -1e4, 0.0], multilabel=False).scores).all()
    assert np.isfinite(classify([1e4, -1e4, 0.0], multilabel=True).scores).all()


def test_batch_axis_of_one_is_accepted() -> None:
    head = ModelHead(CLASSES, 32, 32)
    output = np.array([[0.0, 1.0, 2.0]], np.float32)  # [1, C]
    result = decode_classification([output], FRAME, InferenceParams(), head)
    assert result.predicted.tolist() == [2]


def test_a_logit_count_other_than_the_class_count_is_a_model_load_error() -> None:
    head = ModelHead(CLASSES, 32, 32)
    with pytest.raises(ModelLoadError, match=r"\[3\]"):
        decode_classification([np.zeros(4, np.float32)], FRAME, InferenceParams(), head)
