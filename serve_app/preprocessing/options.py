"""Per-request options the ingress hands to the preprocessing deployment.

Plain frozen dataclasses: they cross deployment boundaries, so they stay cheap to
pickle and free of wire types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreprocessOptions:
    """Switches that turn off, for one request, steps the model's ``environment.json``
    enables (Roboflow's ``disable_preproc_*`` request fields). They never turn a step on."""

    disable_auto_orient: bool = False
    disable_contrast: bool = False
    disable_grayscale: bool = False
    disable_static_crop: bool = False


@dataclass(frozen=True)
class VisualizationStyle:
    """How predictions are drawn on the image sent back to the client."""

    labels: bool = False
    """Write each prediction's class and confidence above its box."""
    stroke_width: int = 1
    """Line width of boxes and outlines, in original-image pixels."""


DEFAULT_OPTIONS = PreprocessOptions()
"""Every step as the model's ``environment.json`` configures it."""
