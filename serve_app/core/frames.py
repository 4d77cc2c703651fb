"""How network-input pixels map back to the image the client sent.

Every preprocessing step that moves pixels (static crop, resize, letterbox) is recorded
in a :class:`FrameTransform`, which decoders use to put boxes, outlines and keypoints
back on the original image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import numpy as np


class ResizeMode(str, Enum):
    """Resize formats as Roboflow writes them in ``environment.json``."""

    STRETCH = "Stretch to"
    FIT_BLACK = "Fit (black edges) in"
    FIT_WHITE = "Fit (white edges) in"
    FIT_GREY = "Fit (grey edges) in"

    @property
    def pad_value(self) -> int:
        return {ResizeMode.FIT_WHITE: 255, ResizeMode.FIT_GREY: 114}.get(self, 0)


@dataclass(frozen=True)
class FrameTransform:
    """Affine map from network-input pixels to original-image pixels.

    ``x_original = (x_input - pad_x) / scale_x + offset_x`` (likewise for y), where
    the offset is where a static crop started in the original image. Points are
    clipped to the region the network saw: the crop, or else the whole image.
    """

    original_width: int
    original_height: int
    scale_x: float = 1.0
    scale_y: float = 1.0
    pad_x: float = 0.0
    pad_y: float = 0.0
    offset_x: float = 0.0
    offset_y: float = 0.0
    crop_width: float | None = None
    """Size of the static crop the network saw; None when it saw the whole image."""
    crop_height: float | None = None

    def points_to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map an ``[..., 2]`` float array of (x, y) points and clip to the region seen."""
        seen_w = self.original_width if self.crop_width is None else self.crop_width
        seen_h = self.original_height if self.crop_height is None else self.crop_height
        out = np.empty_like(xy, dtype=np.float32)
        # Clip in the crop's frame before shifting, as Roboflow does: a box reaching
        # into letterbox padding ends at the crop's edge, not further into the image.
        out[..., 0] = np.clip((xy[..., 0] - self.pad_x) / self.scale_x, 0, seen_w) + self.offset_x
        out[..., 1] = np.clip((xy[..., 1] - self.pad_y) / self.scale_y, 0, seen_h) + self.offset_y
        return out

    def boxes_to_original(self, xyxy: np.ndarray) -> np.ndarray:
        """Map ``[N, 4]`` x1, y1, x2, y2 boxes from network input to original pixels."""
        return self.points_to_original(xyxy.reshape(-1, 2, 2)).reshape(-1, 4)

    def with_offset(
        self, offset_x: float, offset_y: float, width: int, height: int
    ) -> FrameTransform:
        """The same map for an image that was cut out of a larger one at (offset_x, offset_y).

        ``width`` x ``height`` is the larger image; this map's own size becomes the crop's.
        """
        return replace(
            self,
            offset_x=offset_x,
            offset_y=offset_y,
            original_width=width,
            original_height=height,
            crop_width=self.original_width,
            crop_height=self.original_height,
        )

    def rescaled(self, width: int, height: int) -> FrameTransform:
        """The same map onto a ``width`` x ``height`` version of the image it maps to.

        For an image decoded at a reduced scale (``preprocessing/image_loading``): this
        map reaches the reduced pixels, the one returned the full image's, every length
        stretched by ``width / original_width`` across and ``height / original_height``
        down (the sizes decoded, so libjpeg's rounding up is accounted for).
        """
        fx, fy = width / self.original_width, height / self.original_height
        return replace(
            self,
            original_width=width,
            original_height=height,
            scale_x=self.scale_x / fx,
            scale_y=self.scale_y / fy,
            offset_x=self.offset_x * fx,
            offset_y=self.offset_y * fy,
            crop_width=None if self.crop_width is None else self.crop_width * fx,
            crop_height=None if self.crop_height is None else self.crop_height * fy,
        )
