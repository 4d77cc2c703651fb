"""The bundled segmenter really segments: mean mask IoU of the objects it finds, on
generated scenes it never saw in training (seeds ≥ 1,000,000), through the HTTP API.

Outlines come back as polygons through boundary pixel centres, in original-image
pixels; they are filled back into masks here and compared with the scene's masks.
"""

from __future__ import annotations

import cv2
import httpx
import numpy as np

from tests.support import b64_image, box_of, match_pairs, skip_unless_bundled
from tools.shapes import EVAL_SEED_START, generate_scene

MODEL_ID = "shapes-segmentation/1"
SCENES = 60
PER_REQUEST = 10

pytestmark = skip_unless_bundled(MODEL_ID, "segment")


def fill_polygon(points: list[dict[str, float]], height: int, width: int) -> np.ndarray:
    """bool [H, W]: the pixels inside an outline whose points are pixel centres."""
    mask = np.zeros((height, width), np.uint8)
    if points:
        # Pixel centre (x + 0.5) → pixel index x, in 1/16 px fixed point.
        xy = np.array([[p["x"], p["y"]] for p in points]) - 0.5
        cv2.fillPoly(mask, [np.round(xy * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def test_mean_mask_iou_of_matched_objects(client: httpx.Client) -> None:
    ious: list[float] = []
    objects = 0
    for start in range(0, SCENES, PER_REQUEST):
        scenes = [generate_scene(EVAL_SEED_START + i) for i in range(start, start + PER_REQUEST)]
        images = [b64_image(s.image) for s in scenes]
        r = client.post(
            "/infer/instance_segmentation", json={"model_id": MODEL_ID, "image": images}
        )
        assert r.status_code == 200, r.text
        for scene, answer in zip(scenes, r.json(), strict=True):
            height, width = scene.image.shape[:2]
            truths = [(o.class_id, tuple(o.box.tolist())) for o in scene.objects]
            predictions = answer["predictions"]
            found = [(p["class_id"], box_of(p)) for p in predictions]
            objects += len(truths)
            for t, p in match_pairs(truths, found):
                truth = scene.objects[t].mask
                predicted = fill_polygon(predictions[p]["points"], height, width)
                ious.append(float((truth & predicted).sum() / (truth | predicted).sum()))
    mean_iou = float(np.mean(ious))
    print(
        f"{MODEL_ID}: mean mask IoU {mean_iou:.3f} over {len(ious)} matched of "
        f"{objects} objects in {SCENES} scenes"
    )
    assert len(ious) >= 0.8 * objects, "too few objects found to judge the masks"
    assert mean_iou >= 0.7
