"""The engine seam: a batch of uint8 images in, the network's raw outputs out."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Engine(Protocol):
    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        """Run the network.

        ``images`` is [B, H, W, 3] uint8 RGB at the network's input size; the engine
        owns normalisation (on the device where it runs). Returns each network
        output as a NumPy array with batch axis B first.
        """
        ...
