"""``bench/gpu_check.py`` runs end to end where the GPU check machine's limits hold:
no Ray, pydantic, pydantic-settings or boto3 importable (they are made unimportable
here). On CPU (``--device cpu``) its correctness checks must pass; its figures mean
nothing on this machine and are not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ABSENT = ("ray", "pydantic", "pydantic_settings", "boto3", "botocore")


def test_gpu_check_runs_on_cpu_without_ray_pydantic_or_boto3(tmp_path: Path) -> None:
    out = tmp_path / "check"
    arguments = [
        "--device", "cpu", "--size", "64", "--batches", "1", "2",
        "--seconds", "0.05", "--images", "2", "--jpeg-sizes", "640x480", "--out", str(out),
    ]  # fmt: skip
    launcher = (
        "import runpy, sys; "
        f"sys.modules.update({{name: None for name in {ABSENT!r}}}); "
        f"sys.argv = ['gpu_check', *{arguments!r}]; "
        "runpy.run_module('bench.gpu_check', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    checked = {(c["model"], c["precision"]) for c in report["correctness"] if c["passed"]}
    assert checked == {
        ("shapes-detection/1", "fp32"),
        ("shapes-segmentation/1", "fp32"),
        ("shapes-classification/1", "fp32"),
    }
    paths = {(t["path"], t["batch"]) for t in report["throughput"]}
    assert len(paths) == 6 and all(t["images_per_s"] > 0 for t in report["throughput"])
    assert "| raw engine | 2 |" in out.with_suffix(".md").read_text()
    assert set(report["jpeg_decode_ms"]) == {"640x480"}
    assert all(ms > 0 for ms in report["jpeg_decode_ms"]["640x480"].values())


def test_without_cuda_the_default_run_says_so_and_stops() -> None:
    import torch

    if torch.cuda.is_available():
        return
    result = subprocess.run(
        [sys.executable, "-m", "bench.gpu_check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "No CUDA device here" in result.stdout
