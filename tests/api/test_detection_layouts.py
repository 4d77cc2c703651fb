"""/infer/object_detection on every YOLO detection layout besides YOLOv8's (RF-DETR has
its own tests, tests/api/test_rfdetr.py).

All fixtures report the same boxes (tools/fixtures/heads.py), each layout in its own
encoding; version 1 of each is letterboxed, version 2 stretched.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import LETTERBOXED, STRETCHED, Resized, b64_image, box_of, solid_image
from tools.fixtures.heads import BOXES, OBJECTNESS

ROUTE = "/infer/object_detection"
LAYOUTS = [
    "fixture-yolov5",
    "fixture-yolonas",
    "fixture-yolov10",
    "fixture-yolov9",
    "fixture-yolo26",
]


def detect(client: httpx.Client, model_id: str, size: Resized, **params: object) -> list[dict]:
    """Predictions for a full red and blue image, by class then score."""
    image = solid_image(size.width, size.height, (255, 0, 255))
    r = client.post(ROUTE, json={"model_id": model_id, "image": b64_image(image), **params})
    assert r.status_code == 200, r.text
    return sorted(r.json()["predictions"], key=lambda p: (p["class_id"], -p["confidence"]))


@pytest.mark.parametrize(
    ("dataset", "score_factor", "kept"),
    [
        ("fixture-yolov5", OBJECTNESS, (0, 2)),  # score = objectness × class score
        ("fixture-yolonas", 1.0, (0, 2)),
        ("fixture-yolov10", 1.0, (0, 1, 2)),  # NMS-free: the overlapping box stays
        ("fixture-yolov9", 1.0, (0, 2)),  # YOLOv8's layout
        ("fixture-yolo26", 1.0, (0, 1, 2)),  # NMS-free, YOLOv10's layout
    ],
)
@pytest.mark.parametrize(("version", "size"), [("1", LETTERBOXED), ("2", STRETCHED)])
def test_layout_reports_the_fixture_boxes(
    client: httpx.Client,
    dataset: str,
    score_factor: float,
    kept: tuple[int, ...],
    version: str,
    size: Resized,
) -> None:
    predictions = detect(client, f"{dataset}/{version}", size)
    assert len(predictions) == len(kept)
    for prediction, box in zip(predictions, [BOXES[i] for i in kept], strict=True):
        assert prediction["class_id"] == box.class_id
        score = size.channel_mean * box.score_scale * score_factor
        assert prediction["confidence"] == pytest.approx(score, abs=2e-3)
        assert box_of(prediction) == pytest.approx(size.box_to_original(box.xyxy), abs=0.02)


@pytest.mark.parametrize("dataset", LAYOUTS)
def test_thresholds_and_class_filter_apply_to_every_layout(
    client: httpx.Client, dataset: str
) -> None:
    model_id = f"{dataset}/1"  # letterboxed: no box scores above 0.75
    blue = detect(client, model_id, LETTERBOXED, class_filter=["blue-thing"])
    assert [p["class"] for p in blue] == ["blue-thing"]
    assert detect(client, model_id, LETTERBOXED, confidence=0.8) == []
    assert len(detect(client, model_id, LETTERBOXED, max_detections=1)) == 1
