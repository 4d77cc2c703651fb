"""Decoding YOLO heads on the device: candidates, selection and masks in torch, then
the same :class:`Detections` the NumPy decoders build.

Heads are read as ``decoders/yolov8.py`` and ``decoders/yolov5.py`` document them,
by the layout the head table (``decoders/registry.py``) names for a (task, family);
heads it names none for (and classification, whose output is a few logits) are
decoded on the host from the engine's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from serve_app.core.frames import FrameTransform
from serve_app.core.ids import Task
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ModelSpec
from serve_app.decoders.base import ModelHead
from serve_app.decoders.boxes import to_detections
from serve_app.decoders.masks import mask_resolution
from serve_app.decoders.registry import DeviceLayout, head_for
from serve_app.device.boxes import best_class, cxcywh_to_xyxy, select_on_device
from serve_app.device.masks import polygons_on_device

Candidates = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""xyxy [N, 4], scores [N], class ids [N], mask coefficients [N, K]."""
HeadReader = Callable[[torch.Tensor, int], Candidates]


def read_yolov8(output: torch.Tensor, num_classes: int) -> Candidates:
    """[4 + C (+ K), N] per image."""
    rows = output.T
    scores, class_id = best_class(rows[:, 4 : 4 + num_classes])
    return cxcywh_to_xyxy(rows[:, :4]), scores, class_id, rows[:, 4 + num_classes :]


def read_yolov5(output: torch.Tensor, num_classes: int) -> Candidates:
    """[N, 5 + C (+ K)] per image; a class's score is objectness × class score."""
    scores, class_id = best_class(output[:, 4:5] * output[:, 5 : 5 + num_classes])
    return cxcywh_to_xyxy(output[:, :4]), scores, class_id, output[:, 5 + num_classes :]


@dataclass(frozen=True)
class HeadLayout:
    read: HeadReader
    fixed_columns: int
    """Columns besides the class scores and mask coefficients."""
    axis: int
    """Axis of the batched output those columns run along."""


LAYOUTS: dict[DeviceLayout, HeadLayout] = {
    DeviceLayout.YOLOV8: HeadLayout(read_yolov8, fixed_columns=4, axis=1),
    DeviceLayout.YOLOV5: HeadLayout(read_yolov5, fixed_columns=5, axis=2),
}


@dataclass(frozen=True)
class DeviceDecoder:
    layout: HeadLayout
    segmentation: bool

    def fits(self, outputs: Sequence[torch.Tensor], head: ModelHead) -> bool:
        """Whether the outputs have the layout this reader expects; else the host
        decoder runs, and reports a broken package as it always does."""
        if not outputs or outputs[0].ndim != 3:
            return False
        if self.segmentation and (len(outputs) < 2 or outputs[1].ndim != 4):
            return False
        masks = outputs[1].shape[1] if self.segmentation else 0
        width = self.layout.fixed_columns + head.num_classes + masks
        return int(outputs[0].shape[self.layout.axis]) == width

    def __call__(
        self,
        outputs: Sequence[torch.Tensor],
        frames: Sequence[FrameTransform],
        params: Sequence[InferenceParams],
        head: ModelHead,
    ) -> list[Detections]:
        return [
            self._decode_one(i, outputs, frame, p, head)
            for i, (frame, p) in enumerate(zip(frames, params, strict=True))
        ]

    def _decode_one(
        self,
        i: int,
        outputs: Sequence[torch.Tensor],
        frame: FrameTransform,
        params: InferenceParams,
        head: ModelHead,
    ) -> Detections:
        xyxy, scores, class_id, coefficients = self.layout.read(outputs[0][i], head.num_classes)
        keep = select_on_device(xyxy, scores, class_id, params, head.class_names)
        polygons = None
        if self.segmentation:
            prototypes = outputs[1][i]
            input_size = (head.input_width, head.input_height)
            proto_size = (int(prototypes.shape[2]), int(prototypes.shape[1]))
            resolution = mask_resolution(params, proto_size, input_size)
            outlines = polygons_on_device(
                coefficients[keep], prototypes, xyxy[keep], resolution, input_size
            )
            polygons = [frame.points_to_original(outline) for outline in outlines]
        return to_detections(
            xyxy[keep].float().cpu().numpy(),
            scores[keep].float().cpu().numpy(),
            class_id[keep].cpu().numpy(),
            frame,
            head.class_names,
            polygons,
        )


def device_decoder_for(spec: ModelSpec) -> DeviceDecoder | None:
    """The device decoder of ``spec``'s head, where its row names a layout."""
    layout = head_for(spec).device
    if layout is None:
        return None
    return DeviceDecoder(LAYOUTS[layout], spec.task is Task.INSTANCE_SEGMENTATION)
