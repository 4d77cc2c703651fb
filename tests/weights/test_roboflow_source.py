"""The Roboflow source against a fake API on loopback: the ``/ort`` contract, answers
mapped to client errors, bounded retries, timeouts, and keys kept out of messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from serve_app.app import weight_sources
from serve_app.config import ServerSettings
from serve_app.core.ids import ModelId
from serve_app.errors import (
    ForbiddenError,
    IncompleteDownloadError,
    ServeAppError,
    UnauthorizedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from serve_app.weights.config import RoboflowConfig
from serve_app.weights.package import read_package
from serve_app.weights.roboflow import RoboflowSource
from tests.conftest import free_port
from tests.weights.fake_roboflow import FORBIDDEN_KEY, GOOD_KEY, FakeRoboflow

WRONG_KEY = "rf-wrong-key-9e3c"


def roboflow(url: str, **overrides: object) -> RoboflowSource:
    settings = {
        "api_base_url": url,
        "device_id": "test-device",
        "weights_retries": 2,
        "weights_backoff_s": 0.01,
        "weights_timeout_s": 5.0,
        **overrides,
    }
    (config,) = weight_sources(ServerSettings(weight_sources=["roboflow"], **settings)).remote
    assert isinstance(config, RoboflowConfig)
    return RoboflowSource(config)


def fetch_into(source: RoboflowSource, model_id: str, dest: Path, api_key: str | None) -> bool:
    dest.mkdir()
    return source.fetch(ModelId.parse(model_id), dest, api_key)


def test_fetch_follows_the_ort_contract_and_writes_a_whole_package(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-contract/3", source_package, ("alpha", "beta"))
    dest = tmp_path / "package"
    assert fetch_into(roboflow(fake_roboflow.url), "rf-contract/3", dest, GOOD_KEY)
    assert fake_roboflow.ort_queries[-1] == {
        "api_key": GOOD_KEY,
        "nocache": "true",
        "device": "test-device",
        "dynamic": "true",
    }
    assert (dest / "weights.onnx").read_bytes() == (source_package / "weights.onnx").read_bytes()
    # Written as Roboflow's server writes its cache, so either server can read it.
    assert json.loads((dest / "model_type.json").read_text()) == {
        "project_task_type": "object-detection",
        "model_type": "yolov8n",
        "model_id": "rf-contract/3",
    }
    package = read_package(ModelId.parse("rf-contract/3"), dest)
    # class_names.txt, from the API's list, wins over the environment's CLASS_MAP.
    assert package.spec.class_names == ("alpha", "beta")
    assert package.spec.colors == {"alpha": "#FF0000", "beta": "#FF0000"}


def test_keypoint_names_from_the_api_are_cached_with_the_package(
    fake_roboflow: FakeRoboflow, fixture_models_dir: Path, tmp_path: Path
) -> None:
    pose = fixture_models_dir / "fixture-yolov8-pose" / "1"
    fake_roboflow.add("rf-pose/1", pose, ("red-thing", "blue-thing"))
    dest = tmp_path / "package"
    assert fetch_into(roboflow(fake_roboflow.url), "rf-pose/1", dest, GOOD_KEY)
    package = read_package(ModelId.parse("rf-pose/1"), dest)
    assert package.spec.task.value == "keypoint-detection"
    assert package.spec.keypoint_names == (("left", "right", "top"), ("front", "back"))


@pytest.mark.parametrize(
    ("model_id", "key", "error"),
    [
        ("rf-known/1", WRONG_KEY, UnauthorizedError),
        ("rf-known/1", FORBIDDEN_KEY, ForbiddenError),
        ("rf-known/1", None, UnauthorizedError),  # no key and no ROBOFLOW_API_KEY
    ],
)
def test_refused_keys_become_401_and_403_without_the_key_in_the_message(
    fake_roboflow: FakeRoboflow,
    source_package: Path,
    tmp_path: Path,
    model_id: str,
    key: str | None,
    error: type[ServeAppError],
) -> None:
    fake_roboflow.add(model_id, source_package, ("a", "b"))
    with pytest.raises(error) as caught:
        fetch_into(roboflow(fake_roboflow.url), model_id, tmp_path / "p", key)
    assert caught.value.status_code == error.status_code
    assert str(key) not in caught.value.message
    assert not any((tmp_path / "p").iterdir())


def test_model_roboflow_lacks_is_a_miss_not_an_error(
    fake_roboflow: FakeRoboflow, tmp_path: Path
) -> None:
    assert not fetch_into(roboflow(fake_roboflow.url), "rf-nowhere/1", tmp_path / "p", GOOD_KEY)


def test_server_key_is_used_when_the_request_has_none(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-server-key/1", source_package, ("a", "b"))
    source = roboflow(fake_roboflow.url, roboflow_api_key=SecretStr(GOOD_KEY))
    assert fetch_into(source, "rf-server-key/1", tmp_path / "p", None)
    assert fake_roboflow.ort_queries[-1]["api_key"] == GOOD_KEY


def test_5xx_answers_are_retried_within_the_budget(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-flaky/1", source_package, ("a", "b"), fail_ort=2)
    assert fetch_into(roboflow(fake_roboflow.url), "rf-flaky/1", tmp_path / "p", GOOD_KEY)
    assert fake_roboflow.hits["ort rf-flaky/1"] == 3


def test_persistent_5xx_is_a_503_after_bounded_attempts(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-down/1", source_package, ("a", "b"), fail_ort=100)
    with pytest.raises(UpstreamUnavailableError, match="HTTP 503 .3 attempts") as caught:
        fetch_into(roboflow(fake_roboflow.url), "rf-down/1", tmp_path / "p", GOOD_KEY)
    assert fake_roboflow.hits["ort rf-down/1"] == 3
    assert GOOD_KEY not in caught.value.message and "/ort/rf-down/1" in caught.value.message


def test_unreachable_api_is_a_503(tmp_path: Path) -> None:
    source = roboflow(f"http://127.0.0.1:{free_port()}", weights_retries=1)
    with pytest.raises(UpstreamUnavailableError, match="cannot reach") as caught:
        fetch_into(source, "rf-any/1", tmp_path / "p", GOOD_KEY)
    assert caught.value.status_code == 503 and GOOD_KEY not in caught.value.message


def test_slow_api_is_a_504_without_retries(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-slow/1", source_package, ("a", "b"), ort_delay_s=1.5)
    source = roboflow(fake_roboflow.url, weights_timeout_s=0.3)
    with pytest.raises(UpstreamTimeoutError, match="within 0.3 s") as caught:
        fetch_into(source, "rf-slow/1", tmp_path / "p", GOOD_KEY)
    assert caught.value.status_code == 504 and fake_roboflow.hits["ort rf-slow/1"] == 1


def test_short_weights_body_is_retried_and_never_kept(
    fake_roboflow: FakeRoboflow, source_package: Path, tmp_path: Path
) -> None:
    fake_roboflow.add("rf-short/1", source_package, ("a", "b"), mode="truncate")
    with pytest.raises(IncompleteDownloadError, match="cut short") as caught:
        fetch_into(roboflow(fake_roboflow.url), "rf-short/1", tmp_path / "p", GOOD_KEY)
    assert caught.value.status_code == 503
    assert fake_roboflow.downloads("rf-short/1") == 3
    assert not (tmp_path / "p" / "weights.onnx").exists()
