"""Which backend and device a replica gets for each config and install, and the
fallbacks where what was asked is missing (TensorRT, CUDA, torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from serve_app.core.engines import EngineOptions
from serve_app.engines.selection import select_engine


@pytest.mark.parametrize(
    ("backend", "device", "cuda", "torch", "trt", "expected"),
    [
        ("auto", "auto", False, True, True, ("onnxruntime", "cpu")),
        ("auto", "auto", True, True, True, ("tensorrt", "cuda")),
        ("auto", "auto", True, True, False, ("torch", "cuda")),
        ("auto", "cpu", True, True, True, ("onnxruntime", "cpu")),
        ("torch", "auto", False, True, False, ("torch", "cpu")),
        ("onnxruntime", "auto", True, True, True, ("onnxruntime", "cuda")),
        ("tensorrt", "auto", True, True, True, ("tensorrt", "cuda")),
    ],
)  # fmt: skip
def test_backends_resolve_without_fallback(
    backend: str, device: str, cuda: bool, torch: bool, trt: bool, expected: tuple[str, str]
) -> None:
    options = EngineOptions(backend=backend, device=device)  # type: ignore[arg-type]
    selection = select_engine(options, has_cuda=cuda, has_torch=torch, has_tensorrt=trt)
    assert (selection.backend, selection.device) == expected
    assert selection.fallback is None


@pytest.mark.parametrize(
    ("backend", "device", "cuda", "torch", "trt", "expected", "because"),
    [
        ("tensorrt", "auto", True, True, False, ("torch", "cuda"), "TensorRT is not installed"),
        ("tensorrt", "auto", False, True, True, ("torch", "cpu"), "TensorRT needs CUDA"),
        ("tensorrt", "auto", False, False, False, ("onnxruntime", "cpu"), "torch and onnx2torch"),
        ("torch", "auto", False, False, False, ("onnxruntime", "cpu"), "torch and onnx2torch"),
        ("torch", "cuda", False, True, False, ("torch", "cpu"), "no usable CUDA device"),
        # No torch: no CUDA either, whatever the machine has.
        ("auto", "cuda", True, False, False, ("onnxruntime", "cpu"), "no usable CUDA device"),
    ],
)  # fmt: skip
def test_missing_pieces_fall_back_and_say_why(
    backend: str,
    device: str,
    cuda: bool,
    torch: bool,
    trt: bool,
    expected: tuple[str, str],
    because: str,
) -> None:
    options = EngineOptions(backend=backend, device=device)  # type: ignore[arg-type]
    selection = select_engine(options, has_cuda=cuda, has_torch=torch, has_tensorrt=trt)
    assert (selection.backend, selection.device) == expected
    assert selection.fallback is not None and because in selection.fallback


@pytest.mark.skipif(Path("/dev/nvidiactl").exists(), reason="this machine has an NVIDIA GPU")
def test_a_machine_without_a_gpu_is_settled_without_importing_torch() -> None:
    code = (
        "import sys; from serve_app.engines.selection import select_engine; "
        "from serve_app.core.engines import EngineOptions; "
        "s = select_engine(EngineOptions()); print(s.backend, s.device, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["onnxruntime", "cpu", "False"]
