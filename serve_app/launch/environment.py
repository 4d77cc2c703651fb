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
* HAProxy's metrics and stats ports moved off their defaults (9101 is where a
  Roboflow server, and ``../shared/peer``, listen; 8404 is a common default too).

Values already in the environment win: an operator can turn any of them off.
"""

from __future__ import annotations

from collections.abc import MutableMapping

FAST_PATH: dict[str, str] = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_HAPROXY_NBTHREAD": "1",
    "RAY_SERVE_REPLICA_GRPC_MAX_MESSAGE_LENGTH": str(256 * 2**20),
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1",
    "RAY_SERVE_HAPROXY_METRICS_PORT": "9111",
    "RAY_SERVE_HAPROXY_STATS_PORT": "9112",
}


def apply_fast_path(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set every :data:`FAST_PATH` variable ``environ`` lacks; returns what applies."""
    for name, value in FAST_PATH.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in FAST_PATH}
