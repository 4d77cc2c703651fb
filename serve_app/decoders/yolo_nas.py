"""YOLO-NAS detection as Roboflow exports it: boxes and class scores as two outputs.

``output0`` is [N, 4] per image: x1, y1, x2, y2 in network-input pixels; ``output1`` is
[N, C]: one score per class in [0, 1], no objectness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, decode_boxes

LAYOUT = "YOLO-NAS head [N, 4] + [N, C]"


def decode_yolo_nas_detection(
    outputs: Sequence[np.ndarray], frame: FrameTransform, params: InferenceParams, head: ModelHead
) -> Detections:
    check_outputs(outputs, [(None, 4), (outputs[0].shape[0], head.num_classes)], LAYOUT)
    candidates = Candidates.from_class_scores(outputs[0], outputs[1])
    return decode_boxes(candidates, frame, params, head)
