"""Small convolutional networks for the bundled shape models, shared by all three tasks.

All networks take ``images``: float32 [B, 3, H, W], RGB, values in [0, 1]. The dense
(detection and segmentation) networks predict on anchor points at strides 8, 16 and
32 of a fixed input size; the point of cell (row i, column j) at stride s is
``((j + 0.5) * s, (i + 0.5) * s)`` in network-input pixels, and points are ordered
level by level, row-major within a level.

Each network's ``forward`` returns what training needs; ``export_module`` wraps it
in the output layout the server expects from a Roboflow export.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

BACKBONE_WIDTHS = (16, 32, 64, 96, 112)
"""Channels after the stride 2, 4, 8, 16 and 32 stages."""
BACKBONE_DEPTHS = (1, 2, 1, 1)
"""Residual blocks in the stride 4, 8, 16 and 32 stages; stride 8 gets the most, as
it must tell apart shapes only 12-25 input pixels wide."""
DENSE_STRIDES = (8, 16, 32)


class ConvBnAct(nn.Sequential):
    """Conv (no bias) → BatchNorm → SiLU, "same" padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.SiLU(inplace=True),
        )


class Residual(nn.Module):
    """``x + ConvBnAct(x)``, a 3x3 block that keeps shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = ConvBnAct(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class Backbone(nn.Module):
    """Five stride-2 stages; returns the features at strides 4, 8, 16 and 32."""

    def __init__(
        self, widths: tuple[int, ...] = BACKBONE_WIDTHS, depths: tuple[int, ...] = BACKBONE_DEPTHS
    ) -> None:
        super().__init__()
        self.widths = widths
        self.stem = ConvBnAct(3, widths[0], stride=2)
        self.stages = nn.ModuleList(
            nn.Sequential(ConvBnAct(c_in, c_out, stride=2), *(Residual(c_out) for _ in range(n)))
            for c_in, c_out, n in zip(widths[:-1], widths[1:], depths, strict=True)
        )

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(images)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class TopDownNeck(nn.Module):
    """FPN-style top-down merge of the stride 8/16/32 features to one width.

    Deep features (large receptive field, needed for big shapes) flow down to the
    fine levels, so that every level sees both shape and exact edges.
    """

    def __init__(self, in_widths: tuple[int, ...], width: int) -> None:
        super().__init__()
        self.laterals = nn.ModuleList(ConvBnAct(c, width, kernel=1) for c in in_widths)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        merged = [self.laterals[-1](features[-1])]
        for lateral, feature in zip(self.laterals[-2::-1], features[-2::-1], strict=True):
            merged.insert(0, lateral(feature) + F.interpolate(merged[0], scale_factor=2.0))
        return merged


class DenseOutputs(NamedTuple):
    """What :class:`DenseDetector` predicts for a batch."""

    boxes: torch.Tensor
    """float32 [B, N, 4], x1, y1, x2, y2 in network-input pixels, decoded from each
    anchor point's distances to the four box sides."""
    logits: torch.Tensor
    """float32 [B, N, C], class scores before the sigmoid."""
    coefficients: torch.Tensor
    """float32 [B, N, K] mask coefficients (K = 0 without masks)."""
    prototypes: torch.Tensor | None
    """float32 [B, K, H/4, W/4] mask prototypes, or None without masks."""
    keypoints: torch.Tensor | None
    """float32 [B, N, P, 3] per keypoint x, y (network-input pixels, the anchor point
    plus an offset in strides) and a visibility logit; None without keypoints."""


class DenseDetector(nn.Module):
    """Anchor-free detector (FCOS / YOLOv8 style), optionally with YOLACT mask
    coefficients or YOLOv8-pose keypoints; ``forward(images)`` returns :class:`DenseOutputs`."""

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        num_prototypes: int = 0,
        width: int = 48,
        num_keypoints: int = 0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_prototypes = num_prototypes
        self.num_keypoints = num_keypoints
        self.backbone = Backbone()
        self.neck = TopDownNeck(self.backbone.widths[2:], width)
        # One tower shared by all levels: shapes look alike at every scale.
        self.tower = nn.Sequential(ConvBnAct(width, width), ConvBnAct(width, width))
        self.predict = nn.Conv2d(width, 4 + num_classes + num_prototypes + 3 * num_keypoints, 1)
        nn.init.constant_(self.predict.bias[4 : 4 + num_classes], -4.6)  # start at p ≈ 0.01
        self.prototypes = None
        if num_prototypes:
            self.prototypes = PrototypeHead(self.backbone.widths[1], width, num_prototypes)
        points, strides = anchor_points(input_size, DENSE_STRIDES)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("strides", strides, persistent=False)

    def forward(self, images: torch.Tensor) -> DenseOutputs:
        stride4, *deep = self.backbone(images)
        levels = self.neck(deep)
        raw = torch.cat([self.predict(self.tower(x)).flatten(2) for x in levels], dim=2)
        raw = raw.transpose(1, 2)  # [B, N, 4 + C + K + 3P]
        distances = F.softplus(raw[..., :4]) * self.strides[:, None]
        boxes = torch.cat([self.points - distances[..., :2], self.points + distances[..., 2:]], -1)
        logits = raw[..., 4 : 4 + self.num_classes]
        mask_end = 4 + self.num_classes + self.num_prototypes
        coefficients = raw[..., 4 + self.num_classes : mask_end]
        prototypes = None if self.prototypes is None else self.prototypes(stride4, levels[0])
        keypoints = None
        if self.num_keypoints:
            offsets = raw[..., mask_end:].unflatten(-1, (self.num_keypoints, 3))
            xy = self.points[:, None] + offsets[..., :2] * self.strides[:, None, None]
            keypoints = torch.cat([xy, offsets[..., 2:]], -1)
        return DenseOutputs(boxes, logits, coefficients, prototypes, keypoints)

    def export_module(self, score_bias: float = 0.0) -> nn.Module:
        """The network in Roboflow's YOLOv8 output layout, class logits shifted by
        ``-score_bias`` before the sigmoid (see ``tools.train_shapes`` calibration)."""
        return _DenseExport(self, score_bias)


class PrototypeHead(nn.Module):
    """Mask prototypes [B, K, H/4, W/4] from the stride 8 level sharpened with stride 4 detail."""

    def __init__(
        self, stride4_width: int, level_width: int, num_prototypes: int, width: int = 32
    ) -> None:
        super().__init__()
        self.reduce = ConvBnAct(level_width, width, kernel=1)
        self.lateral = ConvBnAct(stride4_width, width, kernel=1)
        self.out = nn.Sequential(ConvBnAct(width, width), nn.Conv2d(width, num_prototypes, 1))

    def forward(self, stride4: torch.Tensor, stride8: torch.Tensor) -> torch.Tensor:
        fine = F.interpolate(self.reduce(stride8), scale_factor=2.0) + self.lateral(stride4)
        return self.out(fine)


class _DenseExport(nn.Module):
    """Roboflow YOLOv8 layout: ``output0`` [B, 4 + C + K, N] (cx, cy, w, h, sigmoid
    scores, coefficients), plus ``output1`` prototypes [B, K, H/4, W/4] with masks; the
    pose layout puts x, y and a sigmoid visibility of each keypoint after the scores."""

    def __init__(self, model: DenseDetector, score_bias: float) -> None:
        super().__init__()
        self.model = model
        self.score_bias = score_bias

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)
        centre = (out.boxes[..., :2] + out.boxes[..., 2:]) / 2
        size = out.boxes[..., 2:] - out.boxes[..., :2]
        rows = [centre, size, (out.logits - self.score_bias).sigmoid()]
        if out.prototypes is not None:
            rows.append(out.coefficients)
        if out.keypoints is not None:
            visible = out.keypoints[..., 2:].sigmoid()
            rows.append(torch.cat([out.keypoints[..., :2], visible], -1).flatten(2))
        output0 = torch.cat(rows, -1).transpose(1, 2)
        return (output0,) if out.prototypes is None else (output0, out.prototypes)


class Classifier(nn.Module):
    """Backbone → global average pools of the stride 8, 16 and 32 features → linear.

    Pooling several strides lets small and large shapes both be judged at a scale
    where they are a few cells wide. ``forward`` returns logits [B, C].
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(sum(self.backbone.widths[2:]), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = [feature.mean(dim=(2, 3)) for feature in self.backbone(images)[1:]]
        return self.head(torch.cat(pooled, dim=1))

    def export_module(self) -> nn.Module:
        return self  # Roboflow classification exports give raw logits as well.


def anchor_points(input_size: int, strides: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor points [N, 2] (x, y, network-input pixels) and their strides [N], float32."""
    points, point_strides = [], []
    for stride in strides:
        cells = torch.arange(input_size // stride, dtype=torch.float32)
        ys, xs = torch.meshgrid((cells + 0.5) * stride, (cells + 0.5) * stride, indexing="ij")
        points.append(torch.stack([xs.flatten(), ys.flatten()], dim=1))
        point_strides.append(torch.full((xs.numel(),), float(stride)))
    return torch.cat(points), torch.cat(point_strides)
