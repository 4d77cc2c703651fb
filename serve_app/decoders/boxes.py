"""Shared steps of box decoders: thresholding, class filter, NMS, mapping back."""

from __future__ import annotations

import numpy as np

from serve_app.decoders.nms import nms_indices
from serve_app.messages import DecodeParams, Detections
from serve_app.preprocessing.transforms import FrameTransform


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """[N, 4] centre x, centre y, width, height → x1, y1, x2, y2."""
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def allowed_classes(params: DecodeParams, class_names: tuple[str, ...]) -> np.ndarray | None:
    """Class ids the request asks for, or None for every class."""
    if params.class_filter is None:
        return None
    wanted = set(params.class_filter)
    return np.array([i for i, name in enumerate(class_names) if name in wanted], dtype=np.int64)


def select_detections(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray,
    params: DecodeParams,
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
) -> Detections:
    """Package selected candidates, mapping boxes to original-image pixels."""
    return Detections(
        xyxy=frame.boxes_to_original(xyxy.astype(np.float32)),
        confidence=scores.astype(np.float32),
        class_id=class_id.astype(np.int64),
        class_names=class_names,
        image_width=frame.original_width,
        image_height=frame.original_height,
        polygons=polygons,
    )
