"""Classification heads: one output per class.

``output0`` is [C] per image (or [1, C]), whatever the backbone. Scores are what the
package declares (:class:`~serve_app.core.spec.ClassificationActivation`): a softmax
for single-label models, the outputs as they are for Roboflow's legacy multi-label
packages (its server reports them so), a sigmoid each where a package's own
post-processing says so. Single-label models report the classes at or above the
threshold, multi-label models those above it, as Roboflow's server does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Classification
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ClassificationActivation
from serve_app.decoders.base import ModelHead, check_outputs


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return np.asarray(exp / exp.sum())


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0))))


_ACTIVATIONS: dict[ClassificationActivation, Callable[[np.ndarray], np.ndarray]] = {
    ClassificationActivation.SOFTMAX: softmax,
    ClassificationActivation.SIGMOID: sigmoid,
    ClassificationActivation.NONE: lambda outputs: outputs,
}


def decode_classification(
    outputs: Sequence[np.ndarray],
    frame: FrameTransform,
    params: InferenceParams,
    head: ModelHead,
) -> Classification:
    raw = outputs[0].reshape(-1).astype(np.float64)
    check_outputs([raw], [(head.num_classes,)], "Classification head [C]")
    scores = _ACTIVATIONS[head.activation](raw)
    passed = scores > params.confidence if head.multilabel else scores >= params.confidence
    predicted = np.flatnonzero(passed)
    predicted = predicted[np.argsort(-scores[predicted], kind="stable")]
    return Classification(
        scores=scores.astype(np.float32),
        predicted=predicted.astype(np.int64),
        class_names=head.class_names,
        multilabel=head.multilabel,
        image_width=frame.original_width,
        image_height=frame.original_height,
    )
