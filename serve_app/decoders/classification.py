"""Classification heads: one logit per class.

``output0`` is [C] per image (or [1, C]), whatever the backbone. Single-label models
are scored by a softmax over the logits and report classes at or above the threshold;
multi-label models score each class by its own sigmoid and report the classes above
it, as Roboflow's server does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Classification
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import ModelHead, check_outputs


def decode_classification(
    outputs: Sequence[np.ndarray],
    frame: FrameTransform,
    params: InferenceParams,
    head: ModelHead,
) -> Classification:
    logits = outputs[0].reshape(-1).astype(np.float64)
    check_outputs([logits], [(head.num_classes,)], "Classification head [C]")
    if head.multilabel:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        passed = scores > params.confidence
    else:
        exp = np.exp(logits - logits.max())
        scores = exp / exp.sum()
        passed = scores >= params.confidence
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
