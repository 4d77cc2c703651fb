"""YOLOv10 detection as Roboflow exports it: NMS-free, one row per final detection.

``output0`` is [N, 6] per image: x1, y1, x2, y2 in network-input pixels, score, class
id (as a float). The network already removed duplicates, so no NMS runs; rows the
export pads with carry a low score and are dropped by the confidence threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, decode_boxes

LAYOUT = "YOLOv10 head [N, 6]"


def decode_yolov10_detection(
    outputs: Sequence[np.ndarray], frame: FrameTransform, params: InferenceParams, head: ModelHead
) -> Detections:
    check_outputs(outputs, [(None, 6)], LAYOUT)
    rows = outputs[0]
    class_id = np.rint(rows[:, 5]).astype(np.int64)
    # A class id the model does not name cannot be answered: drop such rows.
    named = (class_id >= 0) & (class_id < head.num_classes)
    rows, class_id = rows[named], class_id[named]
    candidates = Candidates(rows[:, :4], rows[:, 4], class_id)
    return decode_boxes(candidates, frame, params, head, run_nms=False)
