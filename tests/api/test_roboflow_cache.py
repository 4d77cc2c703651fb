"""A MODEL_CACHE_DIR written by Roboflow's server serves every task unchanged.

The session's cache holds fixture models laid out as Roboflow's server writes them
(tools/fixtures/packages.py ``write_roboflow_cache``: its model_type.json keys,
class_names.txt, best.onnx for ViT and ResNet, keypoints_metadata.json). Each must
answer exactly as the same fixture in this server's layout, whose answers the task
tests check against hand-computed geometry; and a package whose task cannot be told
must fail with a message that names the file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.support import b64_image, png_b64, solid_image, stable
from tools.fixtures.packages import ROBOFLOW_CACHE

IMAGE = solid_image(640, 480, (255, 0, 255))
ROUTES = {
    "rf-cache-detection/1": "/infer/object_detection",
    "rf-cache-segmentation/1": "/infer/instance_segmentation",
    "rf-cache-classification/1": "/infer/classification",
    "rf-cache-classification/2": "/infer/classification",
    "rf-cache-keypoints/1": "/infer/keypoints_detection",
}


def infer(client: httpx.Client, route: str, model_id: str) -> dict:
    r = client.post(route, json={"model_id": model_id, "image": b64_image(IMAGE)})
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


@pytest.mark.parametrize("model_id", sorted(ROBOFLOW_CACHE))
def test_each_task_answers_as_the_same_model_in_this_servers_layout(
    client: httpx.Client, model_id: str
) -> None:
    route = ROUTES[model_id]
    cached = infer(client, route, model_id)
    assert cached["predictions"], "the fixture answers something for this image"
    assert stable(cached) == stable(infer(client, route, ROBOFLOW_CACHE[model_id]))


@pytest.mark.parametrize("model_id", sorted(ROBOFLOW_CACHE))
def test_the_classic_route_serves_each_task_of_the_cache(
    client: httpx.Client, model_id: str
) -> None:
    r = client.post(
        f"/{model_id}",
        content=png_b64(IMAGE),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert stable(r.json()) == stable(infer(client, ROUTES[model_id], model_id))


def test_cached_models_are_registered_with_their_task(client: httpx.Client) -> None:
    r = client.post("/model/add", json={"model_id": "rf-cache-keypoints/1"})
    assert r.status_code == 200, r.text
    tasks = {m["model_id"]: m["task_type"] for m in r.json()["models"]}
    assert tasks["rf-cache-keypoints/1"] == "keypoint-detection"


def break_task(folder: Path) -> None:
    declared = json.loads((folder / "model_type.json").read_text())
    del declared["project_task_type"]
    (folder / "model_type.json").write_text(json.dumps(declared))


def test_a_local_package_whose_task_cannot_be_told_is_a_clear_error(
    client: httpx.Client, fixture_models_dir: Path, roboflow_cache_dir: Path, composition: str
) -> None:
    dataset = f"untold-task-{composition}"  # folders are shared by both compositions' runs
    folder = fixture_models_dir / dataset / "1"
    shutil.copytree(roboflow_cache_dir / "rf-cache-segmentation" / "1", folder)
    break_task(folder)
    r = client.post(f"/{dataset}/1", content=png_b64(IMAGE))
    assert r.status_code == 500, r.text
    message = r.json()["message"]
    assert f"{folder / 'model_type.json'} has no 'project_task_type' or 'type'" in message


def test_a_cached_package_whose_task_cannot_be_told_is_a_clear_error(
    client: httpx.Client, roboflow_cache_dir: Path, composition: str
) -> None:
    model_id = f"untold-cached-{composition}/1"
    folder = roboflow_cache_dir / model_id
    shutil.copytree(roboflow_cache_dir / "rf-cache-detection" / "1", folder)
    (folder / "model_type.json").unlink()
    r = client.post(
        "/infer/object_detection", json={"model_id": model_id, "image": b64_image(IMAGE)}
    )
    assert r.status_code == 500, r.text
    message = r.json()["message"]
    assert f"{folder / 'model_type.json'} is missing" in message
    assert "is in none of" in message, "it says the model was looked for again, and where"
