"""Non-maximum suppression on candidate boxes."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def nms_indices(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray,
    iou_threshold: float,
    class_agnostic: bool,
) -> np.ndarray:
    """Indices of the boxes that survive standard IoU NMS, highest score first.

    ``xyxy`` is [N, 4] float32, ``scores`` [N], ``class_id`` [N]. Boxes suppress only
    boxes of their own class unless ``class_agnostic``.
    """
    if len(scores) == 0:
        return np.empty(0, dtype=np.int64)
    # OpenCV takes x, y, w, h boxes; its IoU is the standard one for float boxes.
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).astype(np.float32)
    score_list = scores.astype(np.float32)
    # OpenCV's stubs say sequences; NumPy arrays are what it takes natively.
    dnn: Any = cv2.dnn
    if class_agnostic:
        kept = dnn.NMSBoxes(xywh, score_list, 0.0, iou_threshold)
    else:
        kept = dnn.NMSBoxesBatched(xywh, score_list, class_id.astype(np.int32), 0.0, iou_threshold)
    keep = np.asarray(kept, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]
