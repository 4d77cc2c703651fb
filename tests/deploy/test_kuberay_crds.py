"""RayService and RayCluster objects in ``k8s/`` validate against the KubeRay CRDs
beside this checkout (``../shared/kuberay-crds``), unknown fields included: the API
server drops a field its structural schema lacks without a word, so a misspelt one
would be lost silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.manifests import MANIFESTS, ROOT, documents

CRDS = ROOT.parent / "shared" / "kuberay-crds"
CRD_FILES = {"RayService": "ray.io_rayservices.yaml", "RayCluster": "ray.io_rayclusters.yaml"}
KUBERAY_MANIFESTS = [p for p in MANIFESTS if any(d.get("kind") in CRD_FILES for d in documents(p))]


def _crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / CRD_FILES[kind]).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def unknown_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Paths in ``value`` that ``schema`` neither declares nor leaves open."""
    if isinstance(value, dict) and "properties" in schema:
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return []
        found = []
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{where}.{key}")
        return found
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return [
            path
            for key, item in value.items()
            for path in unknown_fields(item, schema["additionalProperties"], f"{where}.{key}")
        ]
    if isinstance(value, list) and "items" in schema:
        return [
            path
            for i, item in enumerate(value)
            for path in unknown_fields(item, schema["items"], f"{where}[{i}]")
        ]
    return []


def test_unknown_fields_are_found() -> None:
    schema = {"properties": {"a": {"type": "array", "items": {"properties": {"b": {}}}}}}
    assert unknown_fields({"a": [{"b": 1, "c": 2}], "d": 3}, schema) == [".a[0].c", ".d"]


@pytest.mark.parametrize("path", KUBERAY_MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kuberay_objects_match_the_crds(path: Path) -> None:
    if not CRDS.is_dir():
        pytest.skip(f"KubeRay CRDs ({CRDS}) are not beside this checkout")
    for doc in documents(path):
        if doc.get("kind") in CRD_FILES:
            schema = _crd_schema(doc["kind"])
            jsonschema.validate(doc, schema)
            extra = unknown_fields(doc, schema)
            assert not extra, f"{doc['kind']}: fields the CRD lacks: {extra}"


def test_there_are_kuberay_manifests() -> None:
    assert KUBERAY_MANIFESTS
