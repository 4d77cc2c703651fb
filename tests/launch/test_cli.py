"""The ``rfserve`` command line as a new user meets it: plain help, a version, and a
config that cannot serve refused in one line before Ray starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import ray

from serve_app import __version__
from serve_app.examples import EXAMPLE_IMAGE
from serve_app.launch.cli import main
from serve_app.launch.start import config_problem

ROOT = Path(__file__).resolve().parents[2]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    assert "``" not in out and ":mod:" not in out
    for command in ("start", "env", "infer", "models", "bench"):
        assert f"    {command} " in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--version"], capsys)[:2] == (0, f"rfserve {__version__}\n")


@pytest.mark.parametrize("command", ["infer", "bench"])
def test_client_commands_keep_roboflows_short_host_flag(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main([command, "--help"], capsys)
    assert code == 0
    assert "-h HOST, --host HOST" in out and "-h is the host" in out


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["start"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rfserve start: the following arguments are required: config (see rfserve start --help)"
    ]


def test_a_missing_config_is_refused_before_ray_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray started for a config that does not exist")

    monkeypatch.setattr(ray, "init", no_ray)
    missing = tmp_path / "nonexistent.yaml"
    code, out, err = run_main(["start", str(missing)], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"rfserve start: {missing} does not exist"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("applications:\n  - name: [a\n", "is not YAML (line 3)"),
        ("just: a mapping\n", "is not a Ray Serve config: it has no 'applications' list"),
        ("applications:\n  - name: a\n", "applications.0.import_path: Field required"),
        (
            "applications:\n  - name: a\n    import_path: no_such_module.app:build\n",
            "there is no module 'no_such_module.app'",
        ),
    ],
    ids=["not-yaml", "not-serve", "invalid", "no-module"],
)
def test_configs_that_cannot_serve_say_why(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    found = config_problem(str(path))
    assert found is not None and problem in found and "\n" not in found


@pytest.mark.parametrize("name", ["local.yaml", "split.yaml", "edge.yaml"])
def test_the_shipped_configs_pass_the_check(name: str) -> None:
    assert config_problem(str(ROOT / "configs" / name)) is None


def test_an_import_path_is_left_to_serve_run() -> None:
    assert config_problem("serve_app.app:build_app") is None


def test_client_commands_import_no_ray(tmp_path: Path) -> None:
    """``infer``, ``bench`` and ``models list`` start without Ray, the serving stages or
    a network runtime (here against a port nothing listens on, and an empty cache)."""
    dead = "http://127.0.0.1:9"
    code = f"""
import json, os, sys
from serve_app.launch.cli import main
os.environ["MODEL_CACHE_DIR"] = {str(tmp_path)!r}
for argv in (["infer", "-i", {str(EXAMPLE_IMAGE)!r}, "-m", "a/1", "-h", "{dead}"],
             ["bench", "-m", "a/1", "-h", "{dead}", "-L", "-wr", "1", "-br", "1"],
             ["models", "list"]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = ("ray", "onnxruntime", "torch", "cv2", "fastapi", "boto3")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    assert f"cannot reach {dead}" in result.stderr
