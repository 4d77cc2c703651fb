"""The engine seam: a batch of images in, the network's raw outputs out.

Every engine takes host images (:meth:`Engine.infer`, NumPy in and out). Engines that
run on torch devices (:class:`DeviceEngine`) also take device tensors and answer
device tensors (:meth:`DeviceEngine.forward`), so a GPU replica moves its images to
the device once and brings back only decoded predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch


class Engine(Protocol):
    name: str
    """The backend and form: ``"onnxruntime"``, ``"torch"``, ``"torch-trace"``, ``"tensorrt"``."""
    device: str
    """``"cpu"`` or ``"cuda:0"``."""

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        """Run the network.

        ``images`` is [B, H, W, 3] uint8 RGB at the network's input size; the engine
        owns normalisation (on the device where it runs). Returns each network
        output as a NumPy array with batch axis B first.
        """
        ...


@runtime_checkable
class LoneCapable(Protocol):
    """An engine with a wider layout for a forward pass that runs alone in its replica.

    On CPU one intra-op thread per pass, passes side by side, gives the most images per
    second under load, while a request that finds the replica idle is answered sooner
    by one pass on all the replica's cores. Whoever runs passes knows which it is (the
    model replica: ``replica/host.py``) and calls :meth:`infer_alone` for a lone one.
    """

    def infer_alone(self, images: np.ndarray) -> list[np.ndarray]:
        """:meth:`Engine.infer` for a pass that runs alone: with more threads."""
        ...

    def threads(self, alone: bool) -> int:
        """Intra-op threads of a pass, lone or not; 0 where the runtime chooses."""
        ...


@runtime_checkable
class DeviceEngine(Engine, Protocol):
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Run the network on device tensors, without a host copy.

        ``images`` is [B, 3, H, W] RGB in 0..255 (uint8 or float) on the engine's
        device; the engine scales and normalises it. Returns each output, float32,
        batch axis first, on the same device.
        """
        ...

    def infer(self, images: np.ndarray) -> list[np.ndarray]:
        """Host images through :meth:`forward`: one copy to the device, one back."""
        outputs = self.forward(images_to_device(images, self.device))
        return [o.cpu().numpy() for o in outputs]


def images_to_device(images: np.ndarray, device: str) -> torch.Tensor:
    """[B, H, W, 3] uint8 host images → [B, 3, H, W] uint8 on ``device``: one copy
    of the smallest form there is; the layout change happens on the device."""
    import torch  # only engines on torch devices get here

    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if device.startswith("cuda"):
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    return tensor.permute(0, 3, 1, 2)
