"""Shared decoding of YOLO pose heads: boxes as detection, plus each one's keypoints.

After its box and class scores, each candidate row holds P keypoints as x, y in
network-input pixels and a confidence in [0, 1] (YOLOv8 / v11 pose, YOLO26 pose), P
being the most keypoints any class has. A class with fewer names only its first ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import Decoder, ModelHead
from serve_app.decoders.boxes import HeadReader, select_detections, to_detections


def keypoints_decoder(read: HeadReader, run_nms: bool = True) -> Decoder[Detections]:
    """The decoder of a pose head whose first output ``read`` understands."""

    def decode(
        outputs: Sequence[np.ndarray],
        frame: FrameTransform,
        params: InferenceParams,
        head: ModelHead,
    ) -> Detections:
        c, values = read(outputs[0], head, 3 * head.num_keypoints)
        keep = select_detections(c.xyxy, c.scores, c.class_id, params, head.class_names, run_nms)
        points = values[keep].reshape(len(keep), head.num_keypoints, 3)
        keypoints = [
            reported_keypoints(p, frame, len(head.keypoint_names[class_id]), params)
            if class_id < len(head.keypoint_names)
            else np.empty((0, 4), np.float32)
            for p, class_id in zip(points, c.class_id[keep].tolist(), strict=True)
        ]
        return to_detections(
            c.xyxy[keep],
            c.scores[keep],
            c.class_id[keep],
            frame,
            head.class_names,
            keypoints=keypoints,
            keypoint_names=head.keypoint_names,
        )

    return decode


def reported_keypoints(
    points: np.ndarray, frame: FrameTransform, named: int, params: InferenceParams
) -> np.ndarray:
    """[Q, 4] x, y (original-image pixels), confidence, index of the first ``named`` of
    one detection's [P, 3] keypoints (network-input pixels) that pass the request's
    keypoint confidence."""
    index = np.arange(named)
    index = index[points[:named, 2] >= params.keypoint_confidence]
    xy = frame.points_to_original(points[index, :2].astype(np.float32))
    return np.column_stack([xy, points[index, 2], index]).astype(np.float32)
