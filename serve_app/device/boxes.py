"""Box selection on the device: the steps of ``decoders/boxes.py`` in torch, with
torchvision's batched NMS."""

from __future__ import annotations

import torch
from torchvision.ops import batched_nms, nms

from serve_app.core.requests import InferenceParams
from serve_app.decoders.boxes import allowed_classes


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    half = boxes[:, 2:4] / 2
    return torch.cat([boxes[:, :2] - half, boxes[:, :2] + half], dim=1)


def best_class(class_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each candidate's best class: scores [N] and class ids [N] of [N, C] scores."""
    scores, class_id = class_scores.max(dim=1)
    return scores, class_id


def select_on_device(
    xyxy: torch.Tensor,
    scores: torch.Tensor,
    class_id: torch.Tensor,
    params: InferenceParams,
    class_names: tuple[str, ...],
) -> torch.Tensor:
    """Indices of the candidates to report, best first, as ``select_detections``."""
    keep = scores >= params.confidence
    classes = allowed_classes(params, class_names)
    if classes is not None:
        keep &= torch.isin(class_id, torch.from_numpy(classes).to(class_id.device))
    candidates = keep.nonzero().flatten()
    boxes, kept_scores = xyxy[candidates].float(), scores[candidates].float()
    if params.class_agnostic_nms:
        order = nms(boxes, kept_scores, params.iou_threshold)
    else:
        order = batched_nms(boxes, kept_scores, class_id[candidates], params.iou_threshold)
    return candidates[order][: params.max_detections]
