"""The bundled detector really detects: recall and precision on generated scenes it
never saw in training (seeds ≥ 1,000,000), through the HTTP API, as JPEG."""

from __future__ import annotations

import httpx

from tests.support import box_of, match_count, scenes_through_http
from tools.shapes import CLASS_NAMES

MODEL_ID = "shapes-detection/1"
SCENES = 80


def test_recall_and_precision_at_iou_half(client: httpx.Client) -> None:
    truths_total = predicted_total = matched_total = 0
    for scene, answer in scenes_through_http(client, "/infer/object_detection", MODEL_ID, SCENES):
        truths = [(o.class_id, tuple(o.box.tolist())) for o in scene.objects]
        predicted = [(p["class_id"], box_of(p)) for p in answer["predictions"]]
        assert all(CLASS_NAMES[p["class_id"]] == p["class"] for p in answer["predictions"])
        truths_total += len(truths)
        predicted_total += len(predicted)
        matched_total += match_count(truths, predicted)
    recall = matched_total / truths_total
    precision = matched_total / max(predicted_total, 1)
    print(
        f"shapes-detection/1: recall {recall:.3f}, precision {precision:.3f} "
        f"on {truths_total} objects in {SCENES} scenes"
    )
    assert recall >= 0.9
    assert precision >= 0.8
