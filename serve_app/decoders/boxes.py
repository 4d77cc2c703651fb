"""Shared steps of box decoders: best class, thresholding, class filter, NMS, mapping back.

Each layout module only reads its head's tensor into :class:`Candidates`; everything
after that is common to every YOLO family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import Decoder, ModelHead
from serve_app.decoders.nms import nms_indices


@dataclass(frozen=True)
class Candidates:
    """Every candidate a head proposes for one image, in network-input pixels."""

    xyxy: np.ndarray
    """[N, 4] float32: x1, y1, x2, y2."""
    scores: np.ndarray
    """[N] float32 in [0, 1]."""
    class_id: np.ndarray
    """[N] int64."""

    @classmethod
    def from_class_scores(cls, xyxy: np.ndarray, class_scores: np.ndarray) -> Candidates:
        """Candidates that each take their best class of ``class_scores`` [N, C]."""
        class_id = class_scores.argmax(axis=1).astype(np.int64)
        scores = np.take_along_axis(class_scores, class_id[:, None], axis=1)[:, 0]
        return cls(xyxy, scores, class_id)


class HeadReader(Protocol):
    def __call__(
        self, output: np.ndarray, head: ModelHead, num_coefficients: int = 0
    ) -> tuple[Candidates, np.ndarray]:
        """Candidates of a dense head's first output and the [N, K] values each row has
        after its box and scores: mask coefficients, or keypoints (x, y, confidence).

        ``output`` has its batch axis removed; K is ``num_coefficients``, 0 on detection heads.
        """
        ...


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """[N, 4] centre x, centre y, width, height → x1, y1, x2, y2."""
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def allowed_classes(params: InferenceParams, class_names: tuple[str, ...]) -> np.ndarray | None:
    """Class ids the request asks for, or None for every class."""
    if params.class_filter is None:
        return None
    wanted = set(params.class_filter)
    return np.array([i for i, name in enumerate(class_names) if name in wanted], dtype=np.int64)


def select_detections(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray,
    params: InferenceParams,
    class_names: tuple[str, ...],
    run_nms: bool = True,
) -> np.ndarray:
    """Indices of the candidates to report, best first.

    Candidates are in network-input pixels: [N, 4] boxes, [N] scores and class ids.
    """
    keep = scores >= params.confidence
    classes = allowed_classes(params, class_names)
    if classes is not None:
        keep &= np.isin(class_id, classes)
    candidates = np.flatnonzero(keep)
    if run_nms:
        order = nms_indices(
            xyxy[candidates],
            scores[candidates],
            class_id[candidates],
            params.iou_threshold,
            params.class_agnostic_nms,
        )
    else:
        order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order][: params.max_detections]


def to_detections(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray,
    frame: FrameTransform,
    class_names: tuple[str, ...],
    polygons: list[np.ndarray] | None = None,
    keypoints: list[np.ndarray] | None = None,
    keypoint_names: tuple[tuple[str, ...], ...] = (),
) -> Detections:
    """Package selected candidates, mapping boxes to original-image pixels (outlines
    and keypoints come mapped already)."""
    return Detections(
        xyxy=frame.boxes_to_original(xyxy.astype(np.float32)),
        confidence=scores.astype(np.float32),
        class_id=class_id.astype(np.int64),
        class_names=class_names,
        image_width=frame.original_width,
        image_height=frame.original_height,
        polygons=polygons,
        keypoints=keypoints,
        keypoint_names=keypoint_names,
    )


def decode_boxes(
    candidates: Candidates,
    frame: FrameTransform,
    params: InferenceParams,
    head: ModelHead,
    run_nms: bool = True,
) -> Detections:
    """Threshold, filter and (unless the head is NMS-free) suppress, then map back."""
    c = candidates
    keep = select_detections(c.xyxy, c.scores, c.class_id, params, head.class_names, run_nms)
    return to_detections(c.xyxy[keep], c.scores[keep], c.class_id[keep], frame, head.class_names)


def detection_decoder(read: HeadReader, run_nms: bool = True) -> Decoder[Detections]:
    """The decoder of a detection head whose first output ``read`` understands."""

    def decode(
        outputs: Sequence[np.ndarray],
        frame: FrameTransform,
        params: InferenceParams,
        head: ModelHead,
    ) -> Detections:
        candidates, _ = read(outputs[0], head)
        return decode_boxes(candidates, frame, params, head, run_nms)

    return decode
