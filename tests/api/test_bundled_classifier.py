"""The bundled classifier really classifies: top-1 accuracy on generated samples it
never saw in training (seeds ≥ 1,000,000), through the HTTP API."""

from __future__ import annotations

import httpx

from tests.support import b64_image, skip_unless_bundled
from tools.shapes import CLASS_NAMES, EVAL_SEED_START, generate_classification_sample

MODEL_ID = "shapes-classification/1"
SAMPLES = 200
PER_REQUEST = 25

pytestmark = skip_unless_bundled(MODEL_ID, "classify")


def test_top1_accuracy(client: httpx.Client) -> None:
    correct = 0
    for start in range(0, SAMPLES, PER_REQUEST):
        samples = [
            generate_classification_sample(EVAL_SEED_START + i)
            for i in range(start, start + PER_REQUEST)
        ]
        images = [b64_image(image) for image, _ in samples]
        r = client.post("/infer/classification", json={"model_id": MODEL_ID, "image": images})
        assert r.status_code == 200, r.text
        for (_, label), answer in zip(samples, r.json(), strict=True):
            correct += answer["top"] == CLASS_NAMES[label]
    accuracy = correct / SAMPLES
    print(f"{MODEL_ID}: top-1 accuracy {accuracy:.3f} on {SAMPLES} samples")
    assert accuracy >= 0.9
