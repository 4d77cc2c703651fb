"""What a model package declares, parsed once when the package is loaded.

A :class:`ModelSpec` is everything the stages around the network need to know of a
model: its task and architecture, class names, input size and the preprocessing it was
trained with. The preprocessing and model deployments both work from it; neither reads
the package's files again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from serve_app.core.frames import ResizeMode
from serve_app.core.ids import ModelId, Task


class ContrastType(str, Enum):
    """``contrast.type`` as Roboflow writes it."""

    STRETCHING = "Contrast Stretching"
    HISTOGRAM_EQUALIZATION = "Histogram Equalization"
    ADAPTIVE_EQUALIZATION = "Adaptive Equalization"


@dataclass(frozen=True)
class CropBox:
    """``static-crop``: the kept region, in percent (0..100) of width and height."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 in pixels of a ``width`` x ``height`` image (x1, y1 exclusive).

        Truncated toward zero as Roboflow does; percents outside 0..100 are clamped.
        """

        def pixel(percent: float, size: int) -> int:
            return int(_share(percent) * size)

        return (
            pixel(self.x_min, width),
            pixel(self.y_min, height),
            pixel(self.x_max, width),
            pixel(self.y_max, height),
        )

    def kept_share(self) -> tuple[float, float]:
        """The share of the width and of the height the crop keeps (0 where none)."""
        return (
            max(_share(self.x_max) - _share(self.x_min), 0.0),
            max(_share(self.y_max) - _share(self.y_min), 0.0),
        )


def _share(percent: float) -> float:
    """A percent of a side as a share of it, clamped to 0..1."""
    return min(max(percent, 0.0), 100.0) / 100


@dataclass(frozen=True)
class ResizeSpec:
    width: int
    height: int
    mode: ResizeMode


@dataclass(frozen=True)
class PreprocessingSpec:
    """The enabled steps of ``environment.json``'s ``PREPROCESSING``, in Roboflow's
    order: auto-orient (at decode), static crop, contrast, grayscale, resize."""

    auto_orient: bool = False
    static_crop: CropBox | None = None
    contrast: ContrastType | None = None
    grayscale: bool = False
    resize: ResizeSpec | None = None


class ClassificationActivation(str, Enum):
    """What turns a classifier's outputs into the scores it reports, as its package
    declares it: never guessed from the numbers."""

    SOFTMAX = "softmax"
    """One score per class, summing to 1: single-label models."""
    SIGMOID = "sigmoid"
    """Each class its own sigmoid: a package whose ``inference_config.json`` declares
    an unfused ``sigmoid`` post-processing."""
    NONE = "none"
    """The outputs as they are: Roboflow's legacy multi-label packages (``MULTICLASS``),
    whose networks end in their own activation, and packages whose declared
    post-processing is ``fused`` into the network."""


@dataclass(frozen=True)
class InputNormalization:
    """What the network expects of its input: RGB scaled to [0, 1], then
    ``(x - mean) / std`` per channel. The default leaves [0, 1] as it is (YOLO exports);
    engines apply it on the device they run on."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def is_identity(self) -> bool:
        return self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)


UNNORMALIZED = InputNormalization()
"""[0, 1] as it is."""
IMAGENET = InputNormalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
"""ImageNet statistics, which backbones pretrained on it (ResNet, DINOv3, DETR) expect."""
SYMMETRIC = InputNormalization(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
"""[-1, 1], as Hugging Face ViT image processors scale."""


@dataclass(frozen=True)
class ModelSpec:
    model_id: ModelId
    task: Task
    model_type: str
    """Roboflow's ``modelType`` (``"yolov8n"``, ``"yolo11s-seg"``, ``"vit"``...)."""
    class_names: tuple[str, ...]
    """Indexed by class id."""
    input_width: int
    input_height: int
    """Network-input size in pixels."""
    batch_size: int | None
    """Fixed batch dimension of the network, or None where it is dynamic."""
    preprocessing: PreprocessingSpec = PreprocessingSpec()
    colors: dict[str, str] = field(default_factory=dict)
    """``#RRGGBB`` per class name, from ``COLORS``, for drawing."""
    multilabel: bool = False
    activation: ClassificationActivation = ClassificationActivation.SOFTMAX
    """Classification models: how outputs become scores."""
    normalization: InputNormalization = UNNORMALIZED
    keypoint_names: tuple[tuple[str, ...], ...] = ()
    """Keypoint detection models: per class id, the names of its keypoints in the
    order the network predicts them (``keypoints_metadata.json``)."""


@dataclass(frozen=True)
class ModelPackage:
    """A model package folder on disk and what it declares (``weights/package.py``
    reads one): what the model replica loads a model from."""

    spec: ModelSpec
    path: Path
    weights_file: str
    """The network's file name in ``path``."""

    @property
    def weights_path(self) -> Path:
        return self.path / self.weights_file
