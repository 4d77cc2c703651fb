"""The KubeRay manifests as data: one typed description of each cluster variant, and
the builders that turn it into Kubernetes objects (plain dicts, ready to dump).

The serve config is not described here: each variant names a file in ``configs/``
whose text becomes the RayService's ``serveConfigV2`` unchanged. Everything the pods
share with the rest of the project is taken from where it is defined, never copied:
Ray Serve's speed settings from :data:`serve_app.launch.environment.FAST_PATH`, the
Secret's keys from the environment variable names of
:class:`serve_app.config.ServerSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serve_app.config import ServerSettings
from serve_app.launch.environment import FAST_PATH

ROOT = Path(__file__).resolve().parent.parent

NAME = "rfserve"
RAY_VERSION = "2.60.0"
SERVE_PORT = 9001  # the Roboflow server's port, as in every config's http_options
RAY_HEALTH_PORT = 52365  # Ray's dashboard agent, on every node (dashboard-agent-listen-port)
METRICS_PORT = 8080  # Ray's Prometheus endpoint, as `rfserve start` sets it
CACHE_DIR = "/cache"  # MODEL_CACHE_DIR, the images' VOLUME
UID = 10001  # the images' `rfserve` user and group
POOL_LABEL = "rfserve.io/pool"  # the Ray node label the configs' label_selector asks for
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
"""Every container's: no new privileges, no Linux capabilities."""
SECRET = f"{NAME}-secrets"
SETTINGS_MAP = f"{NAME}-settings"
CACHE_CLAIM = f"{NAME}-model-cache"

# Secret keys are the variables the server reads, so `kubectl create secret
# --from-literal=NAME=...` needs no mapping; each is optional, and the server starts
# without the Secret (bundled models, no client keys, boto3's own credential chain).
SECRET_SETTINGS = ("roboflow_api_key", "api_keys", "s3_access_key_id", "s3_secret_access_key")


@dataclass(frozen=True)
class PodShape:
    """What one Ray pod gets from Kubernetes; Ray advertises the limits as its own
    resources (CPUs, memory, GPUs), so requests equal limits."""

    cpus: int
    memory: str
    gpus: int = 0


@dataclass(frozen=True)
class WorkerGroup:
    name: str
    pool: str
    """Value of :data:`POOL_LABEL` on this group's Ray nodes."""
    shape: PodShape
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class Variant:
    """One rendered overlay: ``k8s/{name}/``."""

    name: str
    serve_config: str
    """Path under the repository root of the serve config embedded as serveConfigV2."""
    image: str
    """Built from ``dockerfile``; every pod runs it, as Ray needs one Python and one
    Ray on all nodes of a cluster."""
    dockerfile: str
    workers: tuple[WorkerGroup, ...]
    head: PodShape = PodShape(cpus=2, memory="4Gi")
    cache_size: str = "50Gi"


# Worker counts cover the replicas the serve config asks for: its minimum at
# minReplicas, its autoscaling maximum at maxReplicas (CPUs per replica from the config).
CPU_WORKERS = WorkerGroup(
    "cpu", pool="cpu", shape=PodShape(cpus=8, memory="16Gi"), min_replicas=2, max_replicas=5
)
VARIANTS = (
    Variant(
        name="cpu",
        serve_config="configs/cluster-cpu.yaml",
        image=f"{NAME}:0.1.0",
        dockerfile="Dockerfile.arm",
        workers=(CPU_WORKERS,),
    ),
    Variant(
        name="gpu",
        serve_config="configs/cluster-gpu.yaml",
        image=f"{NAME}-gpu:0.1.0",
        dockerfile="Dockerfile.gpu",
        workers=(
            WorkerGroup(
                "cpu", pool="cpu", shape=PodShape(8, "16Gi"), min_replicas=1, max_replicas=3
            ),
            # Two model replicas share each GPU (num_gpus: 0.5 in the config).
            WorkerGroup(
                "gpu", pool="gpu", shape=PodShape(4, "32Gi", gpus=1), min_replicas=1, max_replicas=4
            ),
        ),
    ),
)


def secret_keys() -> list[str]:
    """The environment variable names of :data:`SECRET_SETTINGS`."""
    return [str(ServerSettings.model_fields[name].validation_alias) for name in SECRET_SETTINGS]


def pod_env() -> list[dict[str, Any]]:
    """The environment of every Ray container: Serve reads its speed settings when each
    process starts, and the application builder (run on any node) resolves the server
    settings, so head and workers carry the same values."""
    fast_path = [{"name": name, "value": value} for name, value in FAST_PATH.items()]
    secrets = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key, "optional": True}}}
        for key in secret_keys()
    ]
    return [*fast_path, {"name": "MODEL_CACHE_DIR", "value": CACHE_DIR}, *secrets]


def _container(role: str, image: str, shape: PodShape, *, ready_on_serve: bool) -> dict[str, Any]:
    amounts: dict[str, Any] = {"cpu": str(shape.cpus), "memory": shape.memory}
    if shape.gpus:
        amounts["nvidia.com/gpu"] = str(shape.gpus)
    container: dict[str, Any] = {
        "name": f"ray-{role}",
        "image": image,
        "env": pod_env(),
        # Any other server setting (RFSERVE_S3_BUCKET, API_BASE_URL, ...) from an optional
        # ConfigMap; `env` above wins where both name a variable.
        "envFrom": [{"configMapRef": {"name": SETTINGS_MAP, "optional": True}}],
        # KubeRay's Serve Service targets the port named `serve`.
        "ports": [
            {"name": "serve", "containerPort": SERVE_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "resources": {"requests": amounts, "limits": amounts},
        "volumeMounts": [
            {"name": "model-cache", "mountPath": CACHE_DIR},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
        "securityContext": CONTAINER_SECURITY,
    }
    # Alive while Ray's node is: the agent's /api/healthz checks the raylet (and the GCS
    # on the head). KubeRay would add the same checks, but before 1.6 as `wget` run
    # inside the container, which the images do not carry; an HTTP probe needs nothing
    # in the image. Timings are KubeRay's own; a slow model load never restarts a pod.
    container["livenessProbe"] = _ray_health_probe(initial_delay_s=30, failures=120)
    if ready_on_serve:
        # Ready once the application answers /readiness through this pod's proxy (503
        # until the preloaded models are loaded).
        container["readinessProbe"] = {
            "httpGet": {"path": "/readiness", "port": SERVE_PORT},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
    else:
        # The head runs no replicas: ready once Ray's node (GCS included) is.
        container["readinessProbe"] = _ray_health_probe(initial_delay_s=10, failures=10)
    return container


def _ray_health_probe(*, initial_delay_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/api/healthz", "port": RAY_HEALTH_PORT},
        "initialDelaySeconds": initial_delay_s,
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _pod_template(role: str, variant: Variant, shape: PodShape, pool: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        # The images' user; fsGroup makes the cache volume writable by it.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
        },
        "containers": [_container(role, variant.image, shape, ready_on_serve=pool is not None)],
        "volumes": [
            {"name": "model-cache", "persistentVolumeClaim": {"claimName": CACHE_CLAIM}},
            # Ray's object store lives in /dev/shm, which a container gets 64 MiB of.
            {"name": "shm", "emptyDir": {"medium": "Memory"}},
        ],
    }
    if pool is not None:
        # Autoscaler v2 replaces a failed worker pod itself rather than have it restarted.
        spec["restartPolicy"] = "Never"
    if shape.gpus:
        spec["nodeSelector"] = {"nvidia.com/gpu.present": "true"}  # GPU feature discovery
        spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    return {"metadata": {"labels": {"app.kubernetes.io/name": NAME}}, "spec": spec}


def _start_params(**extra: str) -> dict[str, str]:
    return {"metrics-export-port": str(METRICS_PORT), **extra}


def ray_service(variant: Variant) -> dict[str, Any]:
    serve_config = (ROOT / variant.serve_config).read_text()
    head = {
        # The head runs Serve's controller and Ray's own processes, no replicas.
        "rayStartParams": _start_params(**{"num-cpus": "0", "dashboard-host": "0.0.0.0"}),
        "template": _pod_template("head", variant, variant.head, pool=None),
    }
    workers = [
        {
            "groupName": group.name,
            "replicas": group.min_replicas,
            "minReplicas": group.min_replicas,
            "maxReplicas": group.max_replicas,
            # Ray node labels (KubeRay 1.5 and later passes them to `ray start --labels`),
            # which the serve config's label_selector places replicas by.
            "labels": {POOL_LABEL: group.pool},
            "rayStartParams": _start_params(),
            "template": _pod_template("worker", variant, group.shape, group.pool),
        }
        for group in variant.workers
    ]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": NAME},
        "spec": {
            "serveConfigV2": serve_config,
            # Traffic goes to the worker pods' proxies; the head keeps its CPUs for Ray.
            "excludeHeadPodFromServeSvc": True,
            "serveService": {
                "metadata": {"name": NAME},
                "spec": {"ports": [{"name": "serve", "port": SERVE_PORT, "targetPort": "serve"}]},
            },
            "rayClusterConfig": {
                "rayVersion": RAY_VERSION,
                # Serve's autoscaler asks for replicas; Ray's adds the pods they need.
                # Version 2 scales a group up for replicas that ask for its labels.
                "enableInTreeAutoscaling": True,
                "autoscalerOptions": {
                    "version": "v2",
                    "upscalingMode": "Default",
                    "idleTimeoutSeconds": 60,
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "512Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                    "securityContext": CONTAINER_SECURITY,
                },
                "headGroupSpec": head,
                "workerGroupSpecs": workers,
            },
        },
    }


def cache_claim(variant: Variant) -> dict[str, Any]:
    """One cache for all pods: a model is fetched once per cluster, and a TensorRT
    engine built once per GPU kind (the weight store's file locks keep concurrent
    fetches apart). ReadWriteMany needs a storage class that offers it (NFS, EFS,
    Filestore, CephFS); the cluster's default class is used unless one is named."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": CACHE_CLAIM, "labels": {"app.kubernetes.io/name": NAME}},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": variant.cache_size}},
        },
    }


def kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["rfserve.yaml"],
        "configurations": ["kustomizeconfig.yaml"],
    }


def kustomize_config() -> dict[str, Any]:
    """Where a RayService keeps its images, for `kustomize edit set image`: kustomize's
    defaults know only the pod templates of core kinds."""
    cluster = "spec/rayClusterConfig"
    containers = "template/spec/containers[]/image"
    return {
        "images": [
            {"kind": "RayService", "path": f"{cluster}/headGroupSpec/{containers}"},
            {"kind": "RayService", "path": f"{cluster}/workerGroupSpecs[]/{containers}"},
        ]
    }


def secret_example() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET},
        "type": "Opaque",
        "stringData": {key: f"<{key}>" for key in secret_keys()},
    }
