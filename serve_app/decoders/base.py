"""The decoder seam: raw network outputs of one image → predictions on the original image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from serve_app.messages import DecodeParams, Detections
from serve_app.preprocessing.transforms import FrameTransform


class Decoder(Protocol):
    def __call__(
        self,
        outputs: Sequence[np.ndarray],
        frame: FrameTransform,
        params: DecodeParams,
        class_names: tuple[str, ...],
    ) -> Detections:
        """``outputs`` are the network's outputs for one image, batch axis removed."""
        ...
