"""Non-maximum suppression on candidate boxes."""

from __future__ import annotations

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
    if class_agnostic:
        keep = cv2.dnn.NMSBoxes(xywh, score_list, 0.0, iou_threshold)
    else:
        keep = cv2.dnn.NMSBoxesBatched(
            xywh, score_list, class_id.astype(np.int32), 0.0, iou_threshold
        )
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]
