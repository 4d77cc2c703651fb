"""What the ingress is given: who may call and how much one request may ask for, and
how concurrent requests for one model are grouped on their way to the next stage."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.api.policy import IngressPolicy
from serve_app.batching import GroupLimits


@dataclass(frozen=True)
class IngressConfig:
    policy: IngressPolicy
    grouping: GroupLimits
    """Images per group (``max_size``) and groups per model in flight."""
