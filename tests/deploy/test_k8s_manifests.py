"""``k8s/`` is what ``python -m tools.render_k8s`` writes, every object in it validates
against the schema Kubernetes or KubeRay will read it with, and the RayService pods
carry what the server and Ray Serve need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from serve_app.launch.environment import FAST_PATH
from tests.deploy.manifests import (
    MANIFESTS,
    ROOT,
    all_documents,
    containers,
    documents,
    pod_templates,
    ray_service,
)
from tests.deploy.serve_configs import check_serve_config, deployments
from tools import render_k8s
from tools.k8s_manifests import UID, VARIANTS, Variant

# A release every supported managed Kubernetes still runs; kubernetes-validate ships
# its schemas (and those of later releases).
KUBERNETES = "1.33.0"
# Kinds the operator or kustomize read rather than the API server's own schemas.
NOT_CORE = {"RayService", "RayCluster", "Kustomization"}


def test_rendered_manifests_are_committed() -> None:
    problems = render_k8s.differences(render_k8s.render())
    assert not problems, "run `python -m tools.render_k8s`:\n" + "".join(problems)


def test_every_variant_is_rendered() -> None:
    assert {p.parent.name for p in MANIFESTS if p.name == "rfserve.yaml"} == {
        v.name for v in VARIANTS
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_parses_into_objects(path: Path) -> None:
    docs = documents(path)
    assert docs
    if path.name != "kustomizeconfig.yaml":  # kustomize's own settings, not an object
        assert all({"apiVersion", "kind"} <= doc.keys() for doc in docs)


@pytest.mark.parametrize(
    "doc",
    [d for d in all_documents() if d["kind"] not in NOT_CORE],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_core_objects_match_kubernetes_schemas(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_embedded_pods_and_service_match_kubernetes_schemas(variant: Variant) -> None:
    service = ray_service(variant.name)
    # KubeRay's CRD copies these schemas; validating them as core objects also
    # catches fields the CRD's copy lets through.
    for group, template in pod_templates(service):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": group},
             "template": template},
            KUBERNETES,
            strict=True,
        )  # fmt: skip
    serve_service = service["spec"]["serveService"]
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "Service", **serve_service}, KUBERNETES, strict=True
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_embedded_serve_config_is_the_variants_config_and_builds(variant: Variant) -> None:
    service = ray_service(variant.name)
    text = service["spec"]["serveConfigV2"]
    assert text == (ROOT / variant.serve_config).read_text()
    check_serve_config(yaml.safe_load(text))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_replica_has_a_worker_group_to_land_on(variant: Variant) -> None:
    service = ray_service(variant.name)
    cluster = service["spec"]["rayClusterConfig"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0", "no replica on the head"
    groups = cluster["workerGroupSpecs"]
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    for application in config["applications"]:
        for name, deployment in deployments(application["args"]).items():
            fits = [g for g in groups if deployment.label_selector.items() <= g["labels"].items()]
            assert fits, f"{name}: no worker group has labels {deployment.label_selector}"
            if deployment.num_gpus:
                gpus = [g["template"]["spec"]["containers"][0]["resources"]["limits"] for g in fits]
                assert all("nvidia.com/gpu" in limits for limits in gpus), name


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_pod_carries_the_fast_path_settings(variant: Variant) -> None:
    service = ray_service(variant.name)
    for name, container in containers(service):
        env = {e["name"]: e.get("value") for e in container["env"]}
        ray_settings = {k: v for k, v in env.items() if k.startswith("RAY_")}
        assert ray_settings == FAST_PATH, name
        assert env["MODEL_CACHE_DIR"] == "/cache", name


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_pod_runs_the_variants_image_as_its_user(variant: Variant) -> None:
    service = ray_service(variant.name)
    dockerfile = (ROOT / variant.dockerfile).read_text()
    assert f"USER {UID}" in dockerfile
    for group, template in pod_templates(service):
        security = template["spec"]["securityContext"]
        assert security["runAsNonRoot"] and security["runAsUser"] == UID, group
        assert security["fsGroup"] == UID, group
        assert {c["image"] for c in template["spec"]["containers"]} == {variant.image}, group
        mounts = {m["mountPath"] for c in template["spec"]["containers"] for m in c["volumeMounts"]}
        assert "/cache" in mounts, group


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_ray_container_has_its_own_http_probes(variant: Variant) -> None:
    """Probes KubeRay would add otherwise run `wget` inside the container before
    KubeRay 1.6; the images carry no wget, so the manifests set HTTP probes that need
    nothing in the image: liveness on Ray's node, readiness on /readiness for workers
    and on Ray's node for the head."""
    service = ray_service(variant.name)
    for name, container in containers(service):
        for kind in ("livenessProbe", "readinessProbe"):
            probe = container[kind]
            assert set(probe) & {"httpGet", "exec", "tcpSocket", "grpc"} == {"httpGet"}, name
        assert container["livenessProbe"]["httpGet"]["path"] == "/api/healthz", name
        ready_on = container["readinessProbe"]["httpGet"]["path"]
        assert ready_on == ("/api/healthz" if name.startswith("head/") else "/readiness"), name
