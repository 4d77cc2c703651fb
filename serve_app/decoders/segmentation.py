"""Shared decoding of YOLO instance segmentation heads: boxes as detection, plus outlines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.decoders.base import Decoder, ModelHead, check_outputs
from serve_app.decoders.boxes import Candidates, HeadReader, select_detections, to_detections
from serve_app.decoders.masks import instance_polygons, mask_resolution


def decode_instances(
    candidates: Candidates,
    coefficients: np.ndarray,
    prototypes: np.ndarray,
    frame: FrameTransform,
    params: InferenceParams,
    head: ModelHead,
    run_nms: bool = True,
) -> Detections:
    """Detections with one outline each, in original-image pixels.

    ``coefficients`` [N, K] belong to the N ``candidates``; ``prototypes`` is [K, h, w].
    Masks are decoded only for the detections that survive thresholds and NMS (unless
    the head is NMS-free).
    """
    c = candidates
    keep = select_detections(c.xyxy, c.scores, c.class_id, params, head.class_names, run_nms)
    input_size = (head.input_width, head.input_height)
    resolution = mask_resolution(params, (prototypes.shape[2], prototypes.shape[1]), input_size)
    outlines = instance_polygons(
        coefficients[keep], prototypes, c.xyxy[keep], resolution, input_size
    )
    polygons = [frame.points_to_original(outline) for outline in outlines]
    return to_detections(
        c.xyxy[keep], c.scores[keep], c.class_id[keep], frame, head.class_names, polygons
    )


def segmentation_decoder(
    read: HeadReader, layout: str, run_nms: bool = True
) -> Decoder[Detections]:
    """The decoder of a segmentation head: ``read`` understands its first output; the
    second is the [K, h, w] mask prototypes, as in every YOLO segmentation export."""

    def decode(
        outputs: Sequence[np.ndarray],
        frame: FrameTransform,
        params: InferenceParams,
        head: ModelHead,
    ) -> Detections:
        check_outputs(outputs, [(None, None), (None, None, None)], layout)
        prototypes = outputs[1]
        candidates, coefficients = read(outputs[0], head, prototypes.shape[0])
        return decode_instances(candidates, coefficients, prototypes, frame, params, head, run_nms)

    return decode
