"""Engines run a network on a device; ``factory.py`` makes a model's engines as the
configured backend asks. This package's top level stays light (no torch, no ONNX
Runtime): those load only in the modules that run them."""

from __future__ import annotations

from serve_app.engines.base import DeviceEngine, Engine

__all__ = ["DeviceEngine", "Engine"]
