"""Ray Serve's speed settings, which it reads from the environment when Ray and Serve
start (each process reads them once, at import), never from a config file.

Each was measured on the bundled detector (bench/README.md) and kept because it helps:

* ``RAY_SERVE_THROUGHPUT_OPTIMIZED``: handles over gRPC, request logs buffered, user
  code on the replica's own event loop, garbage collection frozen after start-up.
* ``RAY_SERVE_ENABLE_HA_PROXY``: HAProxy takes the HTTP port and forwards straight to
  the ingress replicas (direct ingress), so no Python proxy sits in the request path;
  ``RAY_SERVE_HAPROXY_NBTHREAD`` keeps it to one thread, which is all it needs here.
* ``RAY_SERVE_REPLICA_GRPC_MAX_MESSAGE_LENGTH``: a replica's gRPC server takes
  messages of 4 MiB by default, and a batch of 32 network-size images is 10 MiB
  at 320x320 (39 MiB at 640x640); 256 MiB leaves room for large groups.
* ``RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE``: throughput-optimised mode holds 1000 log
  records back before writing them; the server writes one line per request itself and
  Serve's access log is off, so lines are written as they come, and an operator sees a
  request in the log when it is answered.
* ``RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S``: Serve sets HAProxy no server timeout, so a
  request in flight to a node whose link is cut waits for minutes (TCP retries; the
  two-node test saw it). 60 s bounds it, far above any answer the server gives
  (a model's first fetch from a slow weight source is the one request it can cut).
* ``RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S``: a stopping ingress replica keeps
  serving this long so whatever routes to it can notice. Serve's 30 s is for a cloud
  load balancer that targets replicas itself; here only HAProxy does, and it marks a
  replica down after two failed checks 5 s apart. 12 s covers that, and brings a stop
  (Ctrl-C, SIGTERM) from 35 s to under Kubernetes' default 30 s grace period.
* HAProxy's metrics and stats ports moved off their defaults (9101 is where a
  Roboflow server, and ``../shared/peer``, listen; 8404 is a common default too).

Values already in the environment win: an operator can turn any of them off.

:data:`EDGE` trims the same start for one small device, where memory counts more than
the last images per second (README, Edge mode).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path

FAST_PATH: dict[str, str] = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_HAPROXY_NBTHREAD": "1",
    "RAY_SERVE_REPLICA_GRPC_MAX_MESSAGE_LENGTH": str(256 * 2**20),
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1",
    "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S": "60",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "12",
    "RAY_SERVE_HAPROXY_METRICS_PORT": "9111",
    "RAY_SERVE_HAPROXY_STATS_PORT": "9112",
}

EDGE: dict[str, str] = {
    # HAProxy's manager actor and process hold ~100 MiB; Serve's own proxy answers.
    "RAY_SERVE_ENABLE_HA_PROXY": "0",
    # No HAProxy to notice a replica going: Serve's own proxy learns it from the
    # controller at once.
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    # Ray keeps idle worker processes for tasks, up to one per CPU; Serve's replicas
    # are actors with processes of their own, so the worker the deploy's one task
    # leaves behind only holds memory (45 MiB, and pages the others then share less).
    "RAY_num_workers_soft_limit": "0",
}


def edge_cache_dir(environ: Mapping[str, str]) -> str:
    """Where a device keeps models and built engines across reboots, unless
    ``MODEL_CACHE_DIR`` says: the user's cache folder, not ``/tmp`` (often a tmpfs,
    or cleared at boot), so a restart neither downloads nor builds again."""
    home = environ.get("HOME", str(Path.home()))
    return str(Path(environ.get("XDG_CACHE_HOME", f"{home}/.cache")) / "rfserve")


def apply_fast_path(environ: MutableMapping[str, str], edge: bool = False) -> dict[str, str]:
    """Set every :data:`FAST_PATH` variable (and :data:`EDGE` one, and the edge model
    cache, for ``edge``) ``environ`` lacks; returns what applies."""
    wanted = {**FAST_PATH}
    if edge:
        wanted |= {**EDGE, "MODEL_CACHE_DIR": edge_cache_dir(environ)}
    for name, value in wanted.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in wanted}
