"""Grouping concurrent work into one call per hop, and counting the groups."""

from serve_app.batching.grouper import Grouper, GroupLimits
from serve_app.batching.stats import HopStats

__all__ = ["GroupLimits", "Grouper", "HopStats"]
