"""YOLOv5 heads (and YOLOv7 segmentation) as Roboflow exports them: one row per candidate.

``output0`` is [N, 5 + C (+ K)] per image: cx, cy, w, h in network-input pixels, an
objectness score, one score per class (a candidate's score for a class is objectness ×
class score), then, on segmentation heads, K mask coefficients for the prototypes in
``output1`` [K, h, w].
"""

from __future__ import annotations

import numpy as np

from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, cxcywh_to_xyxy, detection_decoder
from serve_app.decoders.segmentation import segmentation_decoder

LAYOUT = "YOLOv5 head [N, 5 + C (+ K)]"


def read_yolov5_head(
    output: np.ndarray, head: ModelHead, num_coefficients: int = 0
) -> tuple[Candidates, np.ndarray]:
    """Candidates of ``output0`` and their [N, K] mask coefficients (K may be 0)."""
    c = head.num_classes
    check_outputs([output], [(None, 5 + c + num_coefficients)], LAYOUT)
    class_scores = output[:, 4:5] * output[:, 5 : 5 + c]
    candidates = Candidates.from_class_scores(cxcywh_to_xyxy(output[:, :4]), class_scores)
    return candidates, output[:, 5 + c :]


decode_yolov5_detection = detection_decoder(read_yolov5_head)
decode_yolov5_segmentation = segmentation_decoder(read_yolov5_head, LAYOUT)
