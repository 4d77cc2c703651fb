"""YOLOv8 / v9 / v11 / v12 heads as Roboflow exports them: one column per candidate.

``output0`` is [4 + C (+ K), N] per image: rows cx, cy, w, h in network-input pixels,
then one score per class in [0, 1] (no objectness), then, on segmentation heads, K
mask coefficients for the prototypes in ``output1`` [K, h, w] or, on pose heads,
x, y, confidence of each keypoint.
"""

from __future__ import annotations

import numpy as np

from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, cxcywh_to_xyxy, detection_decoder
from serve_app.decoders.keypoints import keypoints_decoder
from serve_app.decoders.segmentation import segmentation_decoder

LAYOUT = "YOLOv8 head [4 + C (+ K), N]"


def read_yolov8_head(
    output: np.ndarray, head: ModelHead, num_coefficients: int = 0
) -> tuple[Candidates, np.ndarray]:
    """Candidates of ``output0`` and the [N, K] values after their scores (K may be 0)."""
    c = head.num_classes
    check_outputs([output], [(4 + c + num_coefficients, None)], LAYOUT)
    rows = output.T  # [N, 4 + C + K]
    candidates = Candidates.from_class_scores(cxcywh_to_xyxy(rows[:, :4]), rows[:, 4 : 4 + c])
    return candidates, rows[:, 4 + c :]


decode_yolov8_detection = detection_decoder(read_yolov8_head)
decode_yolov8_segmentation = segmentation_decoder(read_yolov8_head, LAYOUT)
decode_yolov8_keypoints = keypoints_decoder(read_yolov8_head)
