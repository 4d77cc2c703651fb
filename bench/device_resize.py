"""Resize and letterbox on the device, as ``preprocessing/transforms.py`` does on CPU:
for ``gpu_check.py`` to weigh against the CPU preprocessing stage (serving does not
resize on the device).

Bilinear with half-pixel centres and no antialiasing is what OpenCV's
``INTER_LINEAR`` computes; the result is rounded to whole levels, as OpenCV's uint8
output is, so the network sees the CPU path's pixels to within one level.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from serve_app.core.frames import FrameTransform, ResizeMode
from serve_app.core.placement import input_placement
from serve_app.core.spec import ModelSpec


def resize_on_device(
    image: torch.Tensor, width: int, height: int, mode: ResizeMode
) -> tuple[torch.Tensor, FrameTransform]:
    """[H, W, 3] uint8 → [3, height, width] float32 in 0..255, and the map back."""
    h, w = image.shape[:2]
    place = input_placement(w, h, width, height, mode)
    chw = image.permute(2, 0, 1).unsqueeze(0).float()
    size = (place.height, place.width)
    resized = F.interpolate(chw, size=size, mode="bilinear", align_corners=False)
    resized = resized.round_().clamp_(0, 255)[0]
    if mode is ResizeMode.STRETCH:
        return resized, place.frame
    canvas = torch.full((3, height, width), float(mode.pad_value), device=image.device)
    canvas[:, place.top : place.top + place.height, place.left : place.left + place.width] = resized
    return canvas, place.frame


def prepare_on_device(
    images_rgb: list[np.ndarray], spec: ModelSpec, device: torch.device
) -> tuple[torch.Tensor, tuple[FrameTransform, ...]]:
    """Decoded RGB images of any sizes → one [B, 3, H, W] network-size batch on
    ``device`` (each image crosses to the device once, as uint8), and their frames.

    Only the resize runs here; a model whose ``environment.json`` crops or changes
    contrast is prepared on CPU.
    """
    resize = spec.preprocessing.resize
    mode = resize.mode if resize is not None else ResizeMode.STRETCH
    prepared = [
        resize_on_device(
            torch.from_numpy(np.ascontiguousarray(image)).to(device, non_blocking=True),
            spec.input_width,
            spec.input_height,
            mode,
        )
        for image in images_rgb
    ]
    return torch.stack([p[0] for p in prepared]), tuple(p[1] for p in prepared)
