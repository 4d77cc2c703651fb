"""NMS-free heads as Roboflow exports them (YOLOv10, YOLO26): one row per final detection.

``output0`` is [N, 6 (+ K)] per image: x1, y1, x2, y2 in network-input pixels, score,
class id (as a float), then, on YOLO26 segmentation heads, K mask coefficients for the
prototypes in ``output1`` [K, h, w] or, on YOLO26 pose heads, x, y, confidence of each
keypoint. The network already removed duplicates, so no NMS runs; rows the export pads
with carry a low score and are dropped by the confidence threshold.
"""

from __future__ import annotations

import numpy as np

from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, detection_decoder
from serve_app.decoders.keypoints import keypoints_decoder
from serve_app.decoders.segmentation import segmentation_decoder

LAYOUT = "NMS-free head [N, 6 (+ K)]"


def read_nms_free_head(
    output: np.ndarray, head: ModelHead, num_coefficients: int = 0
) -> tuple[Candidates, np.ndarray]:
    """Candidates of ``output0`` and the [N, K] values after their class id (K may be 0)."""
    check_outputs([output], [(None, 6 + num_coefficients)], LAYOUT)
    class_id = np.rint(output[:, 5]).astype(np.int64)
    # A class id the model does not name cannot be answered: drop such rows.
    named = (class_id >= 0) & (class_id < head.num_classes)
    rows, class_id = output[named], class_id[named]
    return Candidates(rows[:, :4], rows[:, 4], class_id), rows[:, 6:]


decode_nms_free_detection = detection_decoder(read_nms_free_head, run_nms=False)
decode_nms_free_segmentation = segmentation_decoder(read_nms_free_head, LAYOUT, run_nms=False)
decode_nms_free_keypoints = keypoints_decoder(read_nms_free_head, run_nms=False)
