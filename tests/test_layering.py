"""Each deployment imports what its stage needs and no more: the ingress of the split
graph names tasks and parses model ids without loading image, network or cloud
libraries (they would cost every ingress replica memory and start-up time)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("cv2", "onnx", "onnxruntime", "boto3", "botocore", "torch")


@pytest.mark.parametrize("module", ["serve_app.core.requests", "serve_app.api.ingress"])
def test_light_modules_import_no_heavy_library(module: str) -> None:
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
