"""``rfserve bench`` against the session's server on loopback: it sends what it says
(clients × requests × images), through the route asked for, and reports the figures
Roboflow's benchmark reports; its percentiles are NumPy's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serve_app.launch.bench import percentile
from serve_app.launch.cli import main


def bench(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", *argv])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize(
    ("extra", "route", "images"),
    [
        ([], "/infer/object_detection", 12),
        (["-bs", "3"], "/infer/object_detection", 36),
        (["-L"], "/shapes-detection/1", 12),
    ],  # fmt: skip
    ids=["infer-route", "batches", "classic-route"],
)
def test_counts_and_figures(
    server: str,
    extra: list[str],
    route: str,
    images: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = tmp_path / "bench.json"
    argv = ["-m", "shapes-detection/1", "-h", server, "-c", "3", "-br", "4", "-wr", "2"]
    code, out, _ = bench([*argv, *extra, "-o", str(result)], capsys)
    assert code == 0
    assert f"shapes-detection/1 on {server}{route}: 3 client(s)" in out
    for figure in ("images/s:", "rps:", "%err: 0.0 (none)", "p50:", "p75:", "p90:", "p99:"):
        assert figure in out
    summary: dict[str, Any] = json.loads(result.read_text())
    assert (summary["requests"], summary["images"], summary["error_rate"]) == (12, images, 0.0)
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["max"]
    assert summary["server_ms_per_image"] > 0
    assert "api_key" not in summary["parameters"]


def test_a_model_the_server_lacks_stops_before_measuring(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bench(["-m", "no-such-model/9", "-h", server, "-br", "1"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("rfserve bench: HTTP 404: ") and "no-such-model/9" in err


def test_errors_count_against_the_max_error_rate(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    argv = ["-m", "shapes-detection/1", "-h", server, "-L", "-br", "2", "-wr", "0"]
    code, out, err = bench([*argv, "-d", str(folder), "--max_error_rate", "50"], capsys)
    assert code == 1
    assert "%err: 100.0 (400: 2)" in out
    assert "error rate 100.0 % > 50.0 %" in err


@pytest.mark.parametrize("values", [[5.0], [1.0, 2.0], [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]])
@pytest.mark.parametrize("q", [0, 50, 75, 90, 99, 100])
def test_percentiles_are_numpys(values: list[float], q: float) -> None:
    assert percentile(sorted(values), q) == pytest.approx(float(np.percentile(values, q)))
