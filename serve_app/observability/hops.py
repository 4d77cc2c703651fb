"""The group and batch counters of a running application, read over Serve handles.

Each deployment counts what crosses the hop into it: requests per group into the
preprocessing stage, images per call into the model replica, images per forward
pass. A handle call reaches one replica, so with several replicas of a deployment
these are that replica's counters.
"""

from __future__ import annotations

from typing import Any

from serve_app.config import Composition
from serve_app.observability.driver import call_deployment


def hop_stats(app_name: str, composition: Composition) -> dict[str, Any]:
    """``dispatched`` (ingress → preprocessing), ``preprocessing`` (``received``, and
    ``sent`` to the model) and ``model`` (``received``, ``forward`` passes)."""
    if composition == "fused":
        stats: dict[str, Any] = call_deployment(app_name, "FusedIngress", "stats")
        return stats
    return {
        **call_deployment(app_name, "Ingress", "stats"),
        "preprocessing": call_deployment(app_name, "Preprocessor", "stats"),
        "model": call_deployment(app_name, "ModelReplica", "stats"),
    }
