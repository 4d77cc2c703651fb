"""RF-DETR heads as Roboflow exports them: a fixed set of queries, no NMS.

``output0`` is [Q, 4] per image: each query's box as cx, cy, w, h in fractions of the
network input; ``output1`` is [Q, C] class logits. Every (query, class) pair is a
candidate scored by the logit's sigmoid, so one query may report several classes, as
Roboflow's server reports them. Segmentation exports add ``output2`` [Q, h, w]: each
query's mask logits over the whole network input (not cut to its box).

Some exports are one-indexed: their class list holds a background class, whose
candidates are dropped and whose index the later classes close up over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import cxcywh_to_xyxy, select_detections, to_detections
from serve_app.decoders.masks import mask_polygons, mask_resolution, sigmoid

BACKGROUND_CLASS = "background_class83422"
"""The name Roboflow gives the background class of one-indexed exports."""
LAYOUT = "RF-DETR head [Q, 4] + [Q, C]"


@dataclass(frozen=True)
class _Selected:
    xyxy: np.ndarray
    """[D, 4] network-input pixels."""
    scores: np.ndarray
    class_id: np.ndarray
    query: np.ndarray
    """[D] index of each detection's query."""
    class_names: tuple[str, ...]
    """The model's classes, background left out."""


def _select(outputs: Sequence[np.ndarray], params: InferenceParams, head: ModelHead) -> _Selected:
    """The best (query, class) pairs at or above the threshold, best first."""
    boxes, logits = outputs[0], outputs[1]
    check_outputs(outputs, [(None, 4), (boxes.shape[0], None)], LAYOUT)
    probabilities = sigmoid(logits)
    query, label = np.nonzero(probabilities >= params.confidence)
    score = probabilities[query, label]
    names = head.class_names
    if BACKGROUND_CLASS in names:
        background = names.index(BACKGROUND_CLASS)
        real = label != background
        query, label, score = query[real], label[real], score[real]
        label = label - (label > background)
        names = names[:background] + names[background + 1 :]
    # Exports may have more logits than the model names classes: those are no answers.
    keep = label < len(names)
    query, label, score = query[keep], label[keep], score[keep]
    size = np.array([head.input_width, head.input_height] * 2, np.float32)
    xyxy = cxcywh_to_xyxy(boxes[query].astype(np.float32)) * size
    order = select_detections(xyxy, score, label, params, names, run_nms=False)
    return _Selected(xyxy[order], score[order], label[order].astype(np.int64), query[order], names)


def decode_rfdetr_detection(
    outputs: Sequence[np.ndarray], frame: FrameTransform, params: InferenceParams, head: ModelHead
) -> Detections:
    s = _select(outputs, params, head)
    return to_detections(s.xyxy, s.scores, s.class_id, frame, s.class_names)


def decode_rfdetr_segmentation(
    outputs: Sequence[np.ndarray], frame: FrameTransform, params: InferenceParams, head: ModelHead
) -> Detections:
    check_outputs(outputs, [(None, 4), (None, None), (outputs[0].shape[0], None, None)], LAYOUT)
    s = _select(outputs, params, head)
    masks = outputs[2]
    input_size = (head.input_width, head.input_height)
    resolution = mask_resolution(params, (masks.shape[2], masks.shape[1]), input_size)
    outlines = mask_polygons(sigmoid(masks[s.query]), resolution, input_size)
    polygons = [frame.points_to_original(outline) for outline in outlines]
    return to_detections(s.xyxy, s.scores, s.class_id, frame, s.class_names, polygons)
