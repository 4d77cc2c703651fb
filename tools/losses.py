"""Target assignment and losses for the dense shape detector (boxes, classes, masks).

All coordinates are network-input pixels. Ground truth comes padded to M objects
per image: ``gt_boxes`` float32 [B, M, 4] x1, y1, x2, y2 and ``gt_classes`` int64
[B, M] with -1 in empty slots.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CENTRE_RADIUS = 1.5
"""Anchor points within this many strides of a box centre (and inside it) are positives."""
LEVEL_SIZE_RANGES = {8: (0.0, 64.0), 16: (40.0, 128.0), 32: (96.0, float("inf"))}
"""Longest box side (input pixels) each stride learns; overlapping ranges soften the cuts."""
NEGATIVE_ALPHA = 0.75


def assign(
    points: torch.Tensor, strides: torch.Tensor, gt_boxes: torch.Tensor, gt_classes: torch.Tensor
) -> torch.Tensor:
    """Index [B, N] of the object each anchor point learns, or -1 for background.

    FCOS centre sampling: a point is a candidate for an object when it lies inside
    the box, within ``CENTRE_RADIUS`` strides of its centre, on a level whose size
    range holds the box; among several candidates the smallest box wins.
    ``points`` is [N, 2], ``strides`` [N].
    """
    x, y = points[None, :, None, 0], points[None, :, None, 1]  # [1, N, 1]
    x1, y1, x2, y2 = (gt_boxes[:, None, :, i] for i in range(4))  # [B, 1, M]
    inside = (x > x1) & (x < x2) & (y > y1) & (y < y2)
    radius = CENTRE_RADIUS * strides[None, :, None]
    near_centre = ((x - (x1 + x2) / 2).abs() < radius) & ((y - (y1 + y2) / 2).abs() < radius)
    longest = torch.maximum(x2 - x1, y2 - y1)
    low, high = _size_ranges(strides)
    right_level = (longest >= low[None, :, None]) & (longest < high[None, :, None])
    candidate = inside & near_centre & right_level & (gt_classes[:, None, :] >= 0)
    area = ((x2 - x1) * (y2 - y1)).expand_as(candidate)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    smallest = area.argmin(dim=2)
    return torch.where(candidate.any(dim=2), smallest, torch.full_like(smallest, -1))


def detection_losses(
    boxes: torch.Tensor,
    logits: torch.Tensor,
    matched: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_classes: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Varifocal-style loss on classes and GIoU loss on boxes, each per positive point.

    ``boxes`` [B, N, 4] and ``logits`` [B, N, C] are the network's predictions,
    ``matched`` [B, N] comes from :func:`assign`. Positive points learn score 1 for
    their object's class with full binary cross-entropy, so that true objects score
    well above the server's 0.4 confidence; the many easy negatives are
    down-weighted by ``NEGATIVE_ALPHA * p ** 2``.
    """
    positive = matched >= 0
    num_positive = positive.sum().clamp(min=1).float()
    target_boxes = _gather(gt_boxes, matched)[positive]  # [P, 4]
    target_classes = _gather(gt_classes[..., None], matched)[positive][:, 0]  # [P]
    giou = _aligned_giou(boxes[positive], target_boxes)
    scores_target = torch.zeros_like(logits)
    scores_target[positive, target_classes] = 1.0
    bce = F.binary_cross_entropy_with_logits(logits, scores_target, reduction="none")
    weight = torch.where(
        scores_target > 0, scores_target, NEGATIVE_ALPHA * logits.sigmoid().detach().pow(2)
    )
    return {
        "class": (bce * weight).sum() / num_positive,
        "box": (1 - giou).sum() / num_positive,
    }


def mask_loss(
    coefficients: torch.Tensor,
    prototypes: torch.Tensor,
    matched: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_masks: torch.Tensor,
    stride: int,
) -> torch.Tensor:
    """YOLACT / YOLOv8-seg mask loss, averaged over positive points.

    The predicted mask of a point is ``sigmoid(coefficients · prototypes)``, exactly
    what the server computes. It is compared (binary cross-entropy) with the soft
    ground truth mask of the point's object inside that object's box only, and
    each point's loss is the mean over its box. ``coefficients`` [B, N, K],
    ``prototypes`` [B, K, h, w], ``gt_masks`` [B, M, h, w] with h, w = input / ``stride``.
    """
    height, width = prototypes.shape[2:]
    cell_x = (torch.arange(width, device=prototypes.device) + 0.5) * stride
    cell_y = (torch.arange(height, device=prototypes.device) + 0.5) * stride
    total = coefficients.new_zeros(())
    count = 0
    for b in range(prototypes.shape[0]):
        positive = matched[b] >= 0
        if not positive.any():
            continue
        objects = matched[b][positive]  # [P]
        logits = coefficients[b][positive] @ prototypes[b].flatten(1)  # [P, h*w]
        target = gt_masks[b][objects].flatten(1).float()
        box = gt_boxes[b][objects]  # [P, 4]
        in_x = (cell_x[None] >= box[:, 0:1]) & (cell_x[None] < box[:, 2:3])  # [P, w]
        in_y = (cell_y[None] >= box[:, 1:2]) & (cell_y[None] < box[:, 3:4])  # [P, h]
        in_box = (in_y[:, :, None] & in_x[:, None, :]).flatten(1).float()
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        total = total + ((bce * in_box).sum(1) / in_box.sum(1).clamp(min=1)).sum()
        count += int(positive.sum())
    return total / max(count, 1)


def keypoint_losses(
    keypoints: torch.Tensor,
    matched: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_keypoints: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """L1 of keypoint positions (in units of the object's size) and visibility BCE,
    averaged over positive points.

    ``keypoints`` [B, N, P, 3] are predicted x, y and visibility logits; ``gt_keypoints``
    [B, M, P, 3] the true x, y and 1 for each of an object's keypoints, 0 in padding.
    A shape's corners have no first corner, only an order (clockwise), so positions
    are scored against the cyclic shift of the true corners that fits best.
    """
    positive = matched >= 0
    num_positive = positive.sum().clamp(min=1).float()
    predicted = keypoints[positive]  # [Q, P, 3]
    count = keypoints.shape[2]
    truth = _gather(gt_keypoints.flatten(2), matched)[positive].unflatten(1, (count, 3))
    box = _gather(gt_boxes, matched)[positive]
    size = ((box[:, 2:] - box[:, :2]).prod(1).clamp(min=1.0).sqrt())[:, None]  # [Q, 1]
    valid = truth[..., 2]  # [Q, P]
    shifts = _cyclic_shifts(count, valid.sum(1).long())  # [Q, S, P]
    shifted = (
        truth[:, None].expand(-1, count, -1, -1).gather(2, shifts[..., None].expand(-1, -1, -1, 3))
    )  # [Q, S, P, 3]
    distance = (predicted[:, None, :, :2] - shifted[..., :2]).abs().sum(-1) / size[:, None]
    position = (distance * valid[:, None]).sum(-1).min(dim=1).values  # best shift per point
    visibility = F.binary_cross_entropy_with_logits(predicted[..., 2], valid, reduction="none")
    return {
        "keypoints": position.sum() / num_positive,
        "visibility": visibility.sum(1).sum() / num_positive,
    }


def _cyclic_shifts(count: int, valid: torch.Tensor) -> torch.Tensor:
    """Index [Q, count, count]: shift s of point q maps slot j < valid[q] to
    (j + s) mod valid[q] and leaves padding slots where they are."""
    slots = torch.arange(count, device=valid.device)
    n = valid.clamp(min=1)[:, None, None]  # [Q, 1, 1]
    rolled = (slots[None, None, :] + slots[None, :, None]) % n  # [Q, S, P]
    return torch.where(slots[None, None, :] < n, rolled, slots[None, None, :].expand_as(rolled))


def _size_ranges(strides: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-point lower and upper bounds [N] of the box size its level learns."""
    low = torch.zeros_like(strides)
    high = torch.zeros_like(strides)
    for stride, (lo, hi) in LEVEL_SIZE_RANGES.items():
        low[strides == stride] = lo
        high[strides == stride] = hi
    return low, high


def _gather(per_object: torch.Tensor, matched: torch.Tensor) -> torch.Tensor:
    """Rows of ``per_object`` [B, M, D] for each point's object: [B, N, D] (row 0 for -1)."""
    index = matched.clamp(min=0)[..., None].expand(-1, -1, per_object.shape[-1])
    return per_object.gather(1, index)


def _aligned_giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalized IoU [P] of box pairs ``a`` [P, 4] and ``b`` [P, 4]."""
    inter_wh = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = inter_wh.prod(1)
    union = (a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1) - inter
    iou = inter / union.clamp(min=1e-6)
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(1)
    return iou - (hull - union) / hull.clamp(min=1e-6)
