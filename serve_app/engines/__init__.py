"""Engines run a network on a device (``factory.py`` picks them by the configured
backend). This package's top level stays light: the config imports its options."""

from __future__ import annotations

from serve_app.engines.base import DeviceEngine, Engine
from serve_app.engines.options import EngineOptions

__all__ = ["DeviceEngine", "Engine", "EngineOptions"]
