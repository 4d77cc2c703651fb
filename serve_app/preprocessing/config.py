"""What the preprocessing stage is given: the limits on the images clients send and
the threads it decodes them on. No weight source, no credentials: a model's spec comes
from the model stage."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.preprocessing.image_loading import ImageLimits


@dataclass(frozen=True)
class PreprocessConfig:
    images: ImageLimits
    threads: int
    """Threads a replica decodes and resizes a group's images on, in parallel."""
