"""Every environment variable the server reads or sets, declared here and only here.

* :class:`ServerSettings`: the server's own settings, read from the environment once,
  by the application builder, which gives each stage the part it uses (so replicas
  on other nodes see the same values). Names follow the Roboflow inference server
  where it has one (``MODEL_CACHE_DIR``, ``API_BASE_URL``, ``ROBOFLOW_API_KEY``,
  ``MAX_ACTIVE_MODELS``, ``PRELOAD_MODELS``), so users can switch servers without
  relearning; settings of our own start with ``RFSERVE_``.
* :data:`ENVIRONMENT`: the variables of others: Ray's and Serve's, which ``rfserve
  start`` sets because they are read only when Ray and Serve start, and the few
  others the server reads or sets (for the edge cache, for OpenCV).

Each is one declaration, with its default and its meaning; the README's tables of
them are written from these (``python -m tools.render_settings``), and a test checks
that they still are.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WeightSourceName = Literal["local", "s3", "roboflow"]
DEFAULT_WEIGHT_SOURCES: tuple[WeightSourceName, ...] = ("local", "s3", "roboflow")

CommaList = Annotated[list[str], NoDecode]


def setting(
    default: Any = None,
    *,
    env: str,
    meaning: str,
    default_factory: Callable[[], Any] | None = None,
    shown: str | None = None,
    note: str | None = None,
    **constraints: Any,
) -> Any:
    """One setting: the variable ``env`` that sets it, its default and ``meaning``.
    ``shown`` replaces the default in the README where it is computed; ``note`` follows
    it there."""
    documentation = {"shown_default": shown, "default_note": note}
    extra: JsonDict = {key: value for key, value in documentation.items() if value is not None}
    if default_factory is not None:
        return Field(
            default_factory=default_factory,
            validation_alias=env,
            description=meaning,
            json_schema_extra=extra,
            **constraints,
        )
    return Field(
        default, validation_alias=env, description=meaning, json_schema_extra=extra, **constraints
    )


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    model_cache_dir: Path = setting(
        # The Roboflow server's default, so existing deployments keep their cache.
        Path("/tmp/cache"),  # noqa: S108
        env="MODEL_CACHE_DIR",
        meaning=(
            "Where model packages are cached: `{dir}/{dataset}/{version}/`. Share it between "
            "the replicas of a node (or between nodes) so a model is downloaded once."
        ),
    )
    api_base_url: str = setting(
        "https://api.roboflow.com",
        env="API_BASE_URL",
        meaning=(
            "Base URL of the Roboflow API the `roboflow` weight source asks (`GET "
            "{url}/ort/{dataset}/{version}`)."
        ),
    )
    roboflow_api_key: SecretStr | None = setting(
        None,
        env="ROBOFLOW_API_KEY",
        meaning=(
            "Key for fetching models from Roboflow when a request carries none (requests may "
            "send `api_key` in the query, an `Authorization: Bearer` header or the JSON body, "
            "in that order of precedence)."
        ),
    )
    device_id: str = setting(
        default_factory=socket.gethostname,
        env="DEVICE_ID",
        shown="host name of the process that builds the app",
        meaning=(
            "Sent to the Roboflow API as `device` with every weights request, as the Roboflow "
            "server does."
        ),
    )
    max_active_models: int | None = setting(
        None,
        env="MAX_ACTIVE_MODELS",
        ge=1,
        note="no count",
        meaning=(
            "Most models each model replica holds; beyond it the least recently used is "
            "unloaded. Unset, memory alone decides (`RFSERVE_MODEL_MEMORY_MB`): Roboflow's "
            "server counts, 8 by default, which unloads the model needed next as soon as 9 "
            "are in use in turn although a small model costs a few MiB. Set it to 8 for "
            "Roboflow's behaviour."
        ),
    )
    model_memory_mb: int | None = setting(
        None,
        env="RFSERVE_MODEL_MEMORY_MB",
        ge=1,
        shown="an eighth of the node's memory, at most 4096",
        meaning=(
            "Memory the models of each model replica may take, MiB; beyond it the least "
            "recently used are unloaded (never the one just loaded). A model's cost is "
            "measured when it loads, as the replica's growth in resident memory (at least "
            "its weights file): 2 to 5 MiB for a detector with 2 MB of weights on ONNX "
            "Runtime, whose sessions share one activation arena. The default takes the "
            "node's memory, or its container's limit where lower, as the replica sees it."
        ),
    )
    preload_models: CommaList = setting(
        default_factory=list,
        env="PRELOAD_MODELS",
        meaning=(
            "Models every model replica loads when it starts (with `ROBOFLOW_API_KEY` where "
            "Roboflow is asked). `GET /readiness` answers 503 until each has been loaded."
        ),
    )
    weight_sources: Annotated[list[WeightSourceName], NoDecode] = setting(
        default_factory=lambda: list(DEFAULT_WEIGHT_SOURCES),
        env="RFSERVE_WEIGHT_SOURCES",
        meaning=(
            "Sources asked, in this order, for a model missing from the cache. A source that "
            "fails does not stop later ones; if none has the model, the first failure is "
            "reported (else 404)."
        ),
    )
    local_models_dir: Path | None = setting(
        None,
        env="RFSERVE_LOCAL_MODELS_DIR",
        meaning=(
            "Extra read-only folder of model packages (`{dir}/{dataset}/{version}/`), searched "
            "before the bundled models by the `local` source."
        ),
    )
    s3_bucket: str | None = setting(
        None,
        env="RFSERVE_S3_BUCKET",
        meaning=("Bucket of the `s3` source; the source is skipped while this is unset."),
    )
    s3_prefix: str = setting(
        "",
        env="RFSERVE_S3_PREFIX",
        meaning=(
            "Key prefix: model `dataset/version` is the folder "
            "`s3://{bucket}/{prefix}/{dataset}/{version}/`, holding the files of a package."
        ),
    )
    s3_endpoint_url: str | None = setting(
        None,
        env="RFSERVE_S3_ENDPOINT_URL",
        note="AWS",
        meaning=(
            "Endpoint of an S3-compatible store (MinIO, SeaweedFS, Ceph, ...); path-style "
            "addressing is used when set."
        ),
    )
    s3_region: str | None = setting(
        None,
        env="RFSERVE_S3_REGION",
        meaning=("Region of the bucket, where the store needs one."),
    )
    s3_access_key_id: str | None = setting(
        None,
        env="RFSERVE_S3_ACCESS_KEY_ID",
        meaning=(
            "With the secret below, the S3 credentials; unset uses boto3's standard chain "
            "(`AWS_*` variables, shared files, instance or pod role)."
        ),
    )
    s3_secret_access_key: SecretStr | None = setting(
        None,
        env="RFSERVE_S3_SECRET_ACCESS_KEY",
        meaning=("Secret of `RFSERVE_S3_ACCESS_KEY_ID`."),
    )
    weights_timeout_s: float = setting(
        30.0,
        env="RFSERVE_WEIGHTS_TIMEOUT_S",
        gt=0,
        meaning=(
            "Connect and read timeout of each call to the Roboflow API, its file URLs or S3. A "
            "timeout answers 504 and is not retried."
        ),
    )
    weights_retries: int = setting(
        3,
        env="RFSERVE_WEIGHTS_RETRIES",
        ge=0,
        meaning=(
            "Retries of a weights call that could not connect, got a 5xx answer or a body "
            "shorter than announced (or, for S3, with the wrong checksum). When they run out: "
            "503."
        ),
    )
    weights_backoff_s: float = setting(
        0.5,
        env="RFSERVE_WEIGHTS_BACKOFF_S",
        ge=0,
        meaning=(
            "Pause before the first retry of a Roboflow call or an S3 object download; it "
            "doubles for each further retry, with jitter. (S3 API calls retry in botocore's "
            "standard mode.)"
        ),
    )
    allow_pickled_numpy: bool = setting(
        False,
        env="RFSERVE_ALLOW_PICKLED_NUMPY",
        meaning=(
            "Accept pickled NumPy image payloads (older clients' `pickle.dumps(image)`). They "
            "are read by an unpickler that admits NumPy's array names only, as stand-ins, and "
            "checked as `.npy` headers are (Sending images); trusted clients only all the same."
        ),
    )
    url_allow_networks: CommaList = setting(
        default_factory=list,
        env="RFSERVE_URL_ALLOW_NETWORKS",
        meaning=(
            "Hosts or CIDR networks that image URLs may reach although they are private or "
            "loopback."
        ),
    )
    url_max_bytes: int = setting(
        20 * 2**20,
        env="RFSERVE_URL_MAX_BYTES",
        gt=0,
        note="20 MiB",
        meaning=("Largest image fetched from a URL."),
    )
    url_timeout_s: float = setting(
        10.0,
        env="RFSERVE_URL_TIMEOUT_S",
        gt=0,
        meaning=("Timeout of an image URL fetch."),
    )
    url_max_redirects: int = setting(
        3,
        env="RFSERVE_URL_MAX_REDIRECTS",
        ge=0,
        meaning=("Redirects followed when fetching an image URL."),
    )
    max_image_pixels: int = setting(
        8192 * 8192,
        env="RFSERVE_MAX_IMAGE_PIXELS",
        gt=0,
        note="8192²",
        meaning=(
            "Larger images are refused (413) from their header, before a pixel is decoded, so a "
            "small file declaring a huge image cannot exhaust memory. OpenCV's own limit "
            "(`OPENCV_IO_MAX_IMAGE_PIXELS`) is set to it in the decoding replicas for formats "
            "whose header is not read first."
        ),
    )
    scaled_jpeg_decode: bool = setting(
        True,
        env="RFSERVE_SCALED_JPEG_DECODE",
        meaning=(
            "Decode a JPEG at least twice the network's input in both directions (after the "
            "model's static crop) at libjpeg's 1/2, 1/4 or 1/8 scale, the coarsest that still "
            "covers the input: a 4K frame decodes in well under half the time. Answers map "
            "back to the original's pixels and `image.width`/`height` stay the original's; the "
            "network sees slightly different (smoother) pixels than a whole decode gives, so "
            "boxes move by a pixel or so. `false` decodes every image whole, as Roboflow's "
            "server does, for its exact numbers. Drawings (`format=image`, "
            "`visualize_predictions`) always use the whole image."
        ),
    )
    max_body_bytes: int = setting(
        50 * 2**20,
        env="RFSERVE_MAX_BODY_BYTES",
        gt=0,
        note="50 MiB",
        meaning=(
            "Largest request body: 413 by its declared length at once, or as soon as a chunked "
            "body passes it."
        ),
    )
    max_images_per_request: int = setting(
        32,
        env="RFSERVE_MAX_IMAGES_PER_REQUEST",
        ge=1,
        meaning=("Most images one request may carry (413 beyond)."),
    )
    allow_url_input: bool = setting(
        True,
        env="ALLOW_URL_INPUT",
        meaning=(
            "Accept images given by URL; `false` refuses them (400), as Roboflow's server's "
            "variable of the same name does."
        ),
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = setting(
        default_factory=list,
        env="RFSERVE_API_KEYS",
        note="open",
        meaning=(
            "Keys clients must present (`api_key` in the query or body, or `Authorization: "
            "Bearer`) to use inference and `/model/*` routes; 401 otherwise. With keys set, "
            "weights are fetched from Roboflow with the server's own `ROBOFLOW_API_KEY`, never "
            "with a client's key. Health, `/info` and the docs stay open."
        ),
    )

    @field_validator(
        "preload_models", "url_allow_networks", "weight_sources", "api_keys", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


@dataclass(frozen=True)
class EnvironmentVariable:
    """A variable of Ray's, Serve's or a library's that the server sets or reads."""

    name: str
    meaning: str
    start: str | None = None
    """What ``rfserve start`` sets it to where the environment has no value of its own."""
    edge: str | None = None
    """What ``rfserve start --edge`` sets it to, where that differs from ``start``."""


_MIB = 2**20

ENVIRONMENT: tuple[EnvironmentVariable, ...] = (
    EnvironmentVariable(
        "RAY_SERVE_THROUGHPUT_OPTIMIZED",
        "Serve's throughput-optimised mode: handles over gRPC, request logs buffered, user "
        "code on the replica's own event loop, garbage collection frozen after start-up.",
        start="1",
    ),
    EnvironmentVariable(
        "RAY_SERVE_ENABLE_HA_PROXY",
        "HAProxy takes the HTTP port and forwards straight to the ingress replicas (direct "
        "ingress): no Python proxy in the request path. Off on the edge, where HAProxy's "
        "manager actor and process would hold ~100 MiB and Serve's own proxy answers.",
        start="1",
        edge="0",
    ),
    EnvironmentVariable(
        "RAY_SERVE_HAPROXY_NBTHREAD", "HAProxy's threads: one is all it needs here.", start="1"
    ),
    EnvironmentVariable(
        "RAY_SERVE_REPLICA_GRPC_MAX_MESSAGE_LENGTH",
        "Largest message a replica's gRPC server takes (4 MiB by default): a batch of 32 "
        "network-size images is 10 MiB at 320x320, 39 MiB at 640x640.",
        start=str(256 * _MIB),
    ),
    EnvironmentVariable(
        "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE",
        "Log records the throughput-optimised mode holds back before writing (1000): the "
        "server writes one line per request itself, so lines are written as they come.",
        start="1",
    ),
    EnvironmentVariable(
        "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S",
        "HAProxy's server timeout (none by default): a request to a node whose link is cut "
        "fails after this long instead of waiting minutes on TCP retries.",
        start="60",
    ),
    EnvironmentVariable(
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S",
        "How long a stopping ingress replica keeps serving so whatever routes to it notices "
        "(30 s, for cloud load balancers): HAProxy marks a replica down after two failed "
        "checks 5 s apart, so 12 s, and a stop fits Kubernetes' 30 s grace period. On the "
        "edge Serve's own proxy learns it from the controller at once.",
        start="12",
        edge="2",
    ),
    EnvironmentVariable(
        "RAY_SERVE_HAPROXY_METRICS_PORT",
        "HAProxy's metrics port, off its default (9101 is where a Roboflow server listens).",
        start="9111",
    ),
    EnvironmentVariable(
        "RAY_SERVE_HAPROXY_STATS_PORT",
        "HAProxy's stats port, off its default (8404, a common default of other tools).",
        start="9112",
    ),
    EnvironmentVariable(
        "RAY_worker_niceness",
        "Niceness of Ray's workers, so of every replica (15 by default, below Ray's own "
        "daemons): a server's replicas are the work, so they run at 0. Beside other work in "
        "the same scheduling group (one container or cgroup, or one session) at 15 they got "
        "2.9 images/s against 38.8 at 0 (bench/README.md); where nothing else competes it "
        "changes nothing.",
        start="0",
    ),
    EnvironmentVariable(
        "RAY_num_workers_soft_limit",
        "Idle worker processes Ray keeps for tasks, up to one per CPU: Serve's replicas are "
        "actors with processes of their own, so on the edge the worker a deploy leaves "
        "behind would only hold memory (45 MiB).",
        edge="0",
    ),
    EnvironmentVariable(
        "XDG_CACHE_HOME",
        "Read by `rfserve start --edge`: models and built engines go to "
        "`$XDG_CACHE_HOME/rfserve` (else `$HOME/.cache/rfserve`) unless `MODEL_CACHE_DIR` "
        "is set, so a device's restart neither downloads nor builds again.",
    ),
    EnvironmentVariable("HOME", "Read by `rfserve start --edge` where `XDG_CACHE_HOME` is unset."),
    EnvironmentVariable(
        "OPENCV_IO_MAX_IMAGE_PIXELS",
        "Set by the application builder in every replica that decodes images, to "
        "`RFSERVE_MAX_IMAGE_PIXELS`: OpenCV's own pixel limit, which it reads once when it "
        "loads, for formats whose header is not read first.",
    ),
)
"""The variables of others the server sets or reads."""

ENVIRONMENT_BY_NAME = {variable.name: variable for variable in ENVIRONMENT}
