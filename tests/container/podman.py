"""Running the images with podman: why it cannot run here (or None), a container's
life (run, exec, stop, remove) and the address containers reach the host at."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

NETWORK = "podman"
"""Podman's default bridge network: ``-p HOST:CONTAINER`` forwards through it."""


def podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {result.stderr[-2000:]}")
    return result.stdout.strip()


def why_not_runnable() -> str | None:
    """A reason podman cannot build and run the images here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed (.ci/run installs podman, runc and debootstrap)"
    if os.geteuid() != 0:
        return "rootless podman is not set up here; the image tests run as root (as CI does)"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed: no base image can be made without a registry"
    try:
        podman("info", timeout=60)
    except (AssertionError, subprocess.TimeoutExpired) as error:
        return f"podman cannot run here: {error}"
    return None


def host_address() -> str:
    """The host's address on podman's bridge (``host.containers.internal`` inside): a
    stand-in listening there is reachable from the containers and from nowhere else."""
    (network,) = json.loads(podman("network", "inspect", NETWORK))
    return str(network["subnets"][0]["gateway"])


@dataclass
class Container:
    name: str

    def exec(self, *command: str, user: str | None = None) -> str:
        options = ["--user", user] if user else []
        return podman("exec", *options, self.name, *command)

    def state(self) -> dict[str, object]:
        state: dict[str, object] = json.loads(
            podman("inspect", "--format", "{{json .State}}", self.name)
        )
        return state

    def stop(self, grace_s: int) -> tuple[float, int]:
        """``podman stop -t grace_s`` (SIGTERM, then SIGKILL after grace_s): seconds it
        took, and the exit code."""
        start = time.monotonic()
        podman("stop", "--time", str(grace_s), self.name, timeout=grace_s + 60)
        seconds = time.monotonic() - start
        return seconds, int(self.state()["ExitCode"])  # type: ignore[call-overload]

    def start(self) -> None:
        podman("start", self.name)

    def logs(self) -> str:
        result = subprocess.run(
            ["podman", "logs", self.name], capture_output=True, text=True, timeout=60, check=False
        )
        return (result.stdout + result.stderr)[-4000:]

    def wait_ready(self, url: str, bound_s: float) -> float:
        """Seconds until ``GET /readiness`` answers 200; fails past ``bound_s`` or when
        the container has stopped."""
        start = time.monotonic()
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readiness", timeout=5).status_code == 200:
                    return time.monotonic() - start
            assert self.state()["Running"], f"the container stopped:\n{self.logs()}"
            assert time.monotonic() - start < bound_s, f"not ready in {bound_s} s:\n{self.logs()}"
            time.sleep(0.5)


@contextlib.contextmanager
def running(image: str, name: str, options: Sequence[str]) -> Iterator[Container]:
    """``podman run -d`` of ``image`` with ``options``; removed (with its anonymous
    volumes) on the way out, whatever happened."""
    podman("rm", "--force", name, check=False)
    podman("run", "--detach", "--name", name, *options, image)
    try:
        yield Container(name)
    finally:
        podman("rm", "--force", "--volumes", "--time", "0", name, check=False)
