"""Counters a model replica keeps about the batches it ran."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class BatchStats:
    batch_sizes: Counter[int] = field(default_factory=Counter)
    images: int = 0
    model_loads: int = 0

    def record_batch(self, size: int) -> None:
        self.batch_sizes[size] += 1
        self.images += size

    def snapshot(self) -> dict[str, object]:
        return {
            "batches": sum(self.batch_sizes.values()),
            "images": self.images,
            "max_batch_size_seen": max(self.batch_sizes, default=0),
            "batch_size_counts": {str(k): v for k, v in sorted(self.batch_sizes.items())},
            "model_loads": self.model_loads,
        }
