"""The committed ``k8s/`` files, parsed, and the parts of them the tests look into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "k8s").rglob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def all_documents() -> list[dict[str, Any]]:
    """Every Kubernetes object in ``k8s/``."""
    return [doc for path in MANIFESTS for doc in documents(path) if "kind" in doc]


def ray_service(variant: str) -> dict[str, Any]:
    """The RayService of ``k8s/{variant}/``."""
    (service,) = [d for d in documents(ROOT / "k8s" / variant / "rfserve.yaml")
                  if d["kind"] == "RayService"]  # fmt: skip
    return service


def pod_templates(service: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(group name, pod template)`` of the head and of every worker group."""
    cluster = service["spec"]["rayClusterConfig"]
    yield "head", cluster["headGroupSpec"]["template"]
    for group in cluster["workerGroupSpecs"]:
        yield group["groupName"], group["template"]


def containers(service: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for group, template in pod_templates(service):
        for container in template["spec"]["containers"]:
            yield f"{group}/{container['name']}", container
