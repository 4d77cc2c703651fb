"""Configs and the KubeRay manifest point at things that exist and
validate against the schemas that will read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from serve_app.app import build_app
from serve_app.config import AppConfig

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT.parent / "shared" / "kuberay-crds"
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
MANIFESTS = sorted((ROOT / "k8s").glob("*.yaml"))


def _check_serve_config(config: dict[str, Any]) -> None:
    assert config["http_options"]["port"] == 9001, "the Roboflow server's port"
    for application in config["applications"]:
        assert application["import_path"] == "serve_app.app:build_app"
        AppConfig.model_validate(application.get("args", {}))
        build_app(application.get("args", {}))  # the graph builds from these args


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_serve_configs_validate_and_build(path: Path) -> None:
    _check_serve_config(yaml.safe_load(path.read_text()))


def _crd_schema(kind_file: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / kind_file).read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return v1["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kuberay_manifests_match_the_crds(path: Path) -> None:
    if not CRDS.is_dir():
        pytest.skip("KubeRay CRDs (../shared/kuberay-crds) are not beside this checkout")
    for doc in yaml.safe_load_all(path.read_text()):
        kind_file = {
            "RayService": "ray.io_rayservices.yaml",
            "RayCluster": "ray.io_rayclusters.yaml",
        }[doc["kind"]]
        jsonschema.validate(doc, _crd_schema(kind_file))
        if doc["kind"] == "RayService":
            _check_serve_config(yaml.safe_load(doc["spec"]["serveConfigV2"]))


def test_every_deploy_file_kind_is_present() -> None:
    assert CONFIGS and MANIFESTS
