"""The decoder seam: raw network outputs of one image → predictions on the original image.

A decoder is a pure function, chosen once per model by :mod:`serve_app.decoders.registry`
from the model's declared task and type. Everything it may use is passed in: the
network's outputs, the frame transform back to the client's image, the request's
options for the task, and the little it must know of the model (:class:`ModelHead`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from serve_app.core.frames import FrameTransform
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ClassificationActivation, ModelSpec
from serve_app.errors import ModelLoadError

R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class ModelHead:
    """What decoders know of the model, taken once from its spec."""

    class_names: tuple[str, ...]
    """Indexed by class id; its length is the number of class scores per candidate."""
    input_width: int
    input_height: int
    """Network-input size in pixels: the frame boxes and masks are decoded in."""
    multilabel: bool = False
    activation: ClassificationActivation = ClassificationActivation.SOFTMAX
    """Classification models: how outputs become scores."""
    keypoint_names: tuple[tuple[str, ...], ...] = ()
    """Keypoint models: per class id, its keypoints' names by index."""

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModelHead:
        return cls(
            spec.class_names,
            spec.input_width,
            spec.input_height,
            spec.multilabel,
            spec.activation,
            spec.keypoint_names,
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_keypoints(self) -> int:
        """Keypoints per candidate: as many as the class with the most, as every
        YOLO pose export predicts that many for each class."""
        return max((len(names) for names in self.keypoint_names), default=0)


class Decoder(Protocol[R_co]):
    def __call__(
        self,
        outputs: Sequence[np.ndarray],
        frame: FrameTransform,
        params: InferenceParams,
        head: ModelHead,
    ) -> R_co:
        """``outputs`` are the network's outputs for one image, batch axis removed."""
        ...


def check_outputs(
    outputs: Sequence[np.ndarray], shapes: Sequence[tuple[int | None, ...]], layout: str
) -> None:
    """Refuse outputs that do not have these shapes (None: any size on that axis).

    The layout comes from the model's declared type; a network whose outputs do not
    fit it is a broken package, reported as such rather than as an IndexError deep
    inside a decoder.
    """
    if len(outputs) < len(shapes):
        raise ModelLoadError(
            f"{layout} expects {len(shapes)} network outputs, the model has {len(outputs)}"
        )
    # Outputs past the ones a layout reads (some exports add extras) are not checked.
    for index, (output, shape) in enumerate(zip(outputs, shapes, strict=False)):
        fits = output.ndim == len(shape) and all(
            want is None or have == want for have, want in zip(output.shape, shape, strict=True)
        )
        if not fits:
            expected = ", ".join("?" if d is None else str(d) for d in shape)
            raise ModelLoadError(
                f"{layout} expects output {index} of shape [{expected}] per image, "
                f"got {list(output.shape)}"
            )
