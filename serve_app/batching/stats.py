"""Counters of the groups that crossed one hop."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class HopStats:
    """What went through one hop: calls, the items they carried (requests or
    batches) and the images in those items."""

    calls: int = 0
    items: int = 0
    images: int = 0
    images_per_call: Counter[int] = field(default_factory=Counter)

    def record(self, items: int, images: int) -> None:
        self.calls += 1
        self.items += items
        self.images += images
        self.images_per_call[images] += 1

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
