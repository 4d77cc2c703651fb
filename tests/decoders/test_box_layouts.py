"""Every box layout decoded from hand-built outputs: a table of edge cases × layouts.

Candidates are written into each layout's own encoding, decoded with an identity frame
(network input = original image), and the kept detections compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from serve_app.core.frames import FrameTransform
from serve_app.core.ids import ModelId, Task
from serve_app.core.predictions import Detections
from serve_app.core.requests import InferenceParams
from serve_app.core.spec import ModelSpec
from serve_app.decoders.base import ModelHead
from serve_app.decoders.registry import AnyDecoder, decoder_for
from serve_app.errors import ModelLoadError

SIZE = 320
FRAME = FrameTransform(SIZE, SIZE)
PROTOTYPES = np.zeros((2, SIZE // 4, SIZE // 4), np.float32)
TWO = ("cat", "dog")


@dataclass(frozen=True)
class Candidate:
    xyxy: tuple[float, float, float, float]
    class_id: int
    score: float


Encoder = Callable[[list[Candidate], int], list[np.ndarray]]


def _cxcywh(candidates: list[Candidate]) -> np.ndarray:
    xyxy = np.array([c.xyxy for c in candidates], np.float32).reshape(-1, 4)
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def _class_scores(candidates: list[Candidate], num_classes: int) -> np.ndarray:
    scores = np.zeros((len(candidates), num_classes), np.float32)
    for j, c in enumerate(candidates):
        scores[j, c.class_id] = c.score
    return scores


def encode_yolov8(candidates: list[Candidate], num_classes: int) -> list[np.ndarray]:
    return [np.concatenate([_cxcywh(candidates), _class_scores(candidates, num_classes)], 1).T]


def encode_yolov5(candidates: list[Candidate], num_classes: int) -> list[np.ndarray]:
    # Objectness 0.5 and doubled class scores: only their product is the score.
    objectness = np.full((len(candidates), 1), 0.5, np.float32)
    scores = 2 * _class_scores(candidates, num_classes)
    return [np.concatenate([_cxcywh(candidates), objectness, scores], axis=1)]


def encode_yolov10(candidates: list[Candidate], num_classes: int) -> list[np.ndarray]:
    rows = [[*c.xyxy, c.score, c.class_id] for c in candidates]
    return [np.array(rows, np.float32).reshape(-1, 6)]


def encode_yolo_nas(candidates: list[Candidate], num_classes: int) -> list[np.ndarray]:
    boxes = np.array([c.xyxy for c in candidates], np.float32).reshape(-1, 4)
    return [boxes, _class_scores(candidates, num_classes)]


def with_masks(encode: Encoder, rows_axis: int) -> Encoder:
    """A segmentation layout: two (zero) coefficients per candidate, plus prototypes."""

    def encoded(candidates: list[Candidate], num_classes: int) -> list[np.ndarray]:
        (head,) = encode(candidates, num_classes)
        coefficients = np.zeros((len(candidates), 2), np.float32)
        rows = np.concatenate([head if rows_axis == 0 else head.T, coefficients], axis=1)
        return [rows if rows_axis == 0 else rows.T, PROTOTYPES]

    return encoded


@dataclass(frozen=True)
class Layout:
    task: Task
    model_type: str
    encode: Encoder
    runs_nms: bool = True

    def decoder(self, classes: tuple[str, ...]) -> AnyDecoder:
        """The decoder the registry picks for a package of this layout."""
        return decoder_for(
            ModelSpec(
                model_id=ModelId("table", "1"),
                task=self.task,
                model_type=self.model_type,
                class_names=classes,
                input_width=SIZE,
                input_height=SIZE,
                batch_size=None,
            )
        )

    def params(self, **options: Any) -> InferenceParams:
        return InferenceParams(**options)


DETECTION, SEGMENTATION = Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION
LAYOUTS = {
    "yolov8": Layout(DETECTION, "yolov8n", encode_yolov8),
    "yolov5": Layout(DETECTION, "yolov5s", encode_yolov5),
    "yolov10": Layout(DETECTION, "yolov10n", encode_yolov10, runs_nms=False),
    "yolo-nas": Layout(DETECTION, "yolo_nas_s", encode_yolo_nas),
    "yolov8-seg": Layout(SEGMENTATION, "yolov8n-seg", with_masks(encode_yolov8, rows_axis=1)),
    "yolov5-seg": Layout(SEGMENTATION, "yolov5s-seg", with_masks(encode_yolov5, rows_axis=0)),
}


def decode(
    layout: Layout,
    candidates: list[Candidate],
    classes: tuple[str, ...] = TWO,
    **params: Any,
) -> Detections:
    outputs = layout.encode(candidates, len(classes))
    return layout.decoder(classes)(
        outputs, FRAME, layout.params(**params), ModelHead(classes, SIZE, SIZE)
    )


A = Candidate((10, 10, 50, 50), 0, 0.9)
A_OVERLAP = Candidate((14, 10, 54, 50), 0, 0.8)  # IoU 0.82 with A
A_OVERLAP_DOG = Candidate((14, 10, 54, 50), 1, 0.8)
B = Candidate((100, 100, 160, 140), 1, 0.7)
C = Candidate((200, 200, 240, 260), 0, 0.5)
FLAT = Candidate((60, 60, 60, 90), 1, 0.6)  # zero width


@dataclass(frozen=True)
class Case:
    candidates: list[Candidate]
    params: dict[str, object]
    expected: list[Candidate]
    """What survives, best first."""
    expected_without_nms: list[Candidate] | None = None
    """For NMS-free heads, where it differs."""
    classes: tuple[str, ...] = TWO


CASES = {
    "empty outputs": Case([], {}, []),
    "all below threshold": Case([A, B, C], {"confidence": 0.95}, []),
    "threshold is inclusive": Case([A, B, C], {"confidence": 0.7}, [A, B]),
    "zero-area box is kept": Case([FLAT], {}, [FLAT]),
    "single class model": Case([C, A], {}, [A, C], classes=("only",)),
    "class filter": Case([A, B, C], {"class_filter": ("dog",)}, [B]),
    "class filter naming no class": Case([A, B], {"class_filter": ("bird",)}, []),
    "empty class filter": Case([A, B], {"class_filter": ()}, []),
    "max detections keeps the best": Case([C, B, A], {"max_detections": 2}, [A, B]),
    "per-class NMS": Case([A_OVERLAP, A, B], {}, [A, B], [A, A_OVERLAP, B]),
    "NMS leaves other classes": Case([A, A_OVERLAP_DOG], {}, [A, A_OVERLAP_DOG]),
    "class-agnostic NMS": Case(
        [A, A_OVERLAP_DOG], {"class_agnostic_nms": True}, [A], [A, A_OVERLAP_DOG]
    ),
    "NMS threshold": Case([A, A_OVERLAP], {"iou_threshold": 0.9}, [A, A_OVERLAP]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_edge_cases(layout: str, case: Case) -> None:
    detections = decode(LAYOUTS[layout], case.candidates, case.classes, **case.params)
    runs_nms = LAYOUTS[layout].runs_nms
    expected = case.expected if runs_nms else (case.expected_without_nms or case.expected)
    assert detections.xyxy.tolist() == [list(c.xyxy) for c in expected]
    assert detections.class_id.tolist() == [c.class_id for c in expected]
    assert detections.confidence == pytest.approx([c.score for c in expected], abs=1e-6)
    assert (detections.polygons is not None) == (LAYOUTS[layout].task is SEGMENTATION)


def test_yolov10_drops_rows_with_a_class_the_model_does_not_name() -> None:
    unnamed = Candidate((0, 0, 10, 10), 7, 0.9)
    assert len(decode(LAYOUTS["yolov10"], [unnamed, B])) == 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_outputs_that_do_not_fit_the_layout_are_a_model_load_error(layout: str) -> None:
    # Encoded for three classes, decoded as a two-class model: the widths disagree.
    spec = LAYOUTS[layout]
    outputs = spec.encode([A], 3)
    if layout == "yolov10":  # its width does not depend on the classes
        outputs = [outputs[0][:, :5]]
    with pytest.raises(ModelLoadError, match="expects"):
        spec.decoder(TWO)(outputs, FRAME, spec.params(), ModelHead(TWO, SIZE, SIZE))


@pytest.mark.parametrize("layout", ["yolov8-seg", "yolov5-seg"])
def test_segmentation_without_prototypes_is_a_model_load_error(layout: str) -> None:
    spec = LAYOUTS[layout]
    outputs = spec.encode([A], 2)[:1]
    with pytest.raises(ModelLoadError, match="2 network outputs"):
        spec.decoder(TWO)(outputs, FRAME, spec.params(), ModelHead(TWO, SIZE, SIZE))
