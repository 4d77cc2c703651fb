"""YOLOv8 / v11 / v12 detection head as Roboflow exports it.

One output ``[4 + C, N]`` per image: rows cx, cy, w, h in network-input pixels,
then one score per class in [0, 1]; no objectness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.decoders.boxes import cxcywh_to_xyxy, select_detections, to_detections
from serve_app.messages import DecodeParams, Detections
from serve_app.preprocessing.transforms import FrameTransform


def decode_yolov8_detection(
    outputs: Sequence[np.ndarray],
    frame: FrameTransform,
    params: DecodeParams,
    class_names: tuple[str, ...],
) -> Detections:
    predictions = outputs[0].T  # [N, 4 + C]
    class_scores = predictions[:, 4 : 4 + len(class_names)]
    class_id = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(class_id)), class_id]
    xyxy = cxcywh_to_xyxy(predictions[:, :4])
    keep = select_detections(xyxy, scores, class_id, params, class_names)
    return to_detections(xyxy[keep], scores[keep], class_id[keep], frame, class_names)
