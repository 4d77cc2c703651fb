"""Roboflow-compatible computer-vision inference on Ray Serve."""

__version__ = "0.1.0"
