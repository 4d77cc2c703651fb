"""Counters of the groups that crossed one hop."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from serve_app.observability.metrics import server_metrics


@dataclass
class HopStats:
    """What went through one hop: calls, the items they carried (requests or
    batches) and the images in those items.

    A hop with a ``name`` also records into the Prometheus metrics (images per call,
    and the time each item waited for its call), which only a Serve replica should do.
    """

    name: str | None = None
    calls: int = 0
    items: int = 0
    images: int = 0
    images_per_call: Counter[int] = field(default_factory=Counter)

    def record(self, items: int, images: int, waits_s: Sequence[float] = ()) -> None:
        self.calls += 1
        self.items += items
        self.images += images
        self.images_per_call[images] += 1
        if self.name is not None:
            metrics, tags = server_metrics(), {"hop": self.name}
            metrics.group_images.observe(images, tags=tags)
            for wait in waits_s:
                metrics.group_wait_seconds.observe(wait, tags=tags)

    def snapshot(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "items": self.items,
            "images": self.images,
            "mean_items_per_call": self.items / self.calls if self.calls else 0.0,
            "mean_images_per_call": self.images / self.calls if self.calls else 0.0,
            "max_images_per_call": max(self.images_per_call, default=0),
            "images_per_call": {str(k): v for k, v in sorted(self.images_per_call.items())},
        }
