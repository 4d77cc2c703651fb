"""The CPU image (``Dockerfile.arm``), built with podman from Debian's and Python's
package registries only (``tools/image/build.py``: a debootstrap stand-in for
``debian:bookworm-slim``, reused while present) and run as the README tells users:

    docker run -it --rm -p 9001:9001 --shm-size=1g -v rfserve-cache:/cache rfserve:0.1.0

Podman's port forwarding works here, so the containers run on its bridge with ``-p``
(a free host port in place of 9001, which other servers on this machine may hold),
detached rather than ``-it --rm`` so the test can look inside and restart them. The
weights stand-in (tests/weights/fake_roboflow.py) listens on the host's side of that
bridge, which only containers on this machine reach.

One container runs as the image's user, another under an arbitrary uid in group 0 (as
OpenShift runs images), each with a fresh named volume on /cache.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.container.podman import Container, host_address, podman, running, why_not_runnable
from tests.support import example_image
from tests.weights.fake_roboflow import GOOD_KEY, FakeRoboflow
from tools.image import build

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]

READY_BOUND_S = 180
GRACE_PERIOD_S = 30
"""Kubernetes' default; ``podman stop`` sends SIGKILL after it."""
FETCHED = "container-shapes/7"
"""The bundled detector's files, served by the stand-in under an id no source in the
image has: the server must fetch it."""
BUNDLED = ROOT / "serve_app/assets/models/shapes-detection/1"


@pytest.fixture(scope="module")
def image() -> str:
    reason = why_not_runnable()
    if reason:
        pytest.skip(reason)
    if not build.image_exists(build.BASE):
        build.build_base()
    build.build_image()
    return build.IMAGE


def readme_run_options() -> list[str]:
    """The options of the README's ``docker run`` of the CPU image, less ``-it --rm``
    (the test runs detached and removes the container itself)."""
    commands = re.findall(r"^docker run .*rfserve:0\.1\.0$", README, flags=re.MULTILINE)
    assert commands, "the README shows how to run the CPU image"
    options = commands[0].split()[2:-1]
    return [o for o in options if o not in {"-it", "--rm"}]


def options_for(port: int, volume: str, *extra: str) -> list[str]:
    options = readme_run_options()
    assert "-p" in options and options[options.index("-p") + 1] == "9001:9001", options
    assert "-v" in options and options[options.index("-v") + 1].endswith(":/cache"), options
    options[options.index("-p") + 1] = f"{port}:9001"
    options[options.index("-v") + 1] = f"{volume}:/cache"
    return [*options, *extra]


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"rfserve-test-{uuid.uuid4().hex[:8]}"
    yield name
    podman("volume", "rm", "--force", name, check=False)


@pytest.fixture
def stand_in() -> Iterator[FakeRoboflow]:
    # The bridge exists once podman has run a container on it (the image fixture's
    # build does not); a throwaway container brings it up.
    podman("run", "--rm", build.IMAGE, "true", check=False)
    fake = FakeRoboflow(host=host_address())
    classes = tuple(json.loads((BUNDLED / "environment.json").read_text())["CLASS_MAP"].values())
    fake.add(FETCHED, BUNDLED, classes)
    yield fake
    fake.close()


def readme_example(port: int) -> tuple[dict[str, object], dict[str, object]]:
    """The README's Quick start curl, run against ``port``, and the answer it shows."""
    command = re.search(r"```bash\n(curl -s http://localhost:9001/infer/.*?)\n```", README, re.S)
    shown = re.search(r"```json\n(\{\"inference_id\".*?)\n```", README, re.S)
    assert command and shown, "the README's Quick start has the curl example and its answer"
    line = command.group(1).replace("localhost:9001", f"localhost:{port}")
    if shutil.which("curl"):
        out = subprocess.run(
            ["bash", "-c", line], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
        ).stdout
        answer = json.loads(out)
    else:  # the same request, as curl would send it
        body = {"model_id": "shapes-detection/1", "image": example_image()}
        url = f"http://localhost:{port}/infer/object_detection"
        answer = httpx.post(url, json=body, timeout=60).json()
    return answer, json.loads(shown.group(1))


def boxes(answer: dict[str, object]) -> list[tuple[str, float, float, float, float]]:
    predictions = answer["predictions"]
    assert isinstance(predictions, list)
    return sorted((p["class"], p["x"], p["y"], p["width"], p["height"]) for p in predictions)


def assert_same_boxes(
    answer: dict[str, object], shown: dict[str, object], tolerance: float
) -> None:
    got, want = boxes(answer), boxes(shown)
    assert [b[0] for b in got] == [b[0] for b in want], (got, want)
    for g, w in zip(got, want, strict=True):
        assert all(abs(a - b) <= tolerance for a, b in zip(g[1:], w[1:], strict=True)), (g, w)


def zombies(container: Container) -> list[str]:
    """``pid state command`` of every zombie in the container."""
    script = (
        "for s in /proc/[0-9]*/stat; do read -r line < $s 2>/dev/null || continue; "
        'case "${line##*) }" in Z*) echo "$line";; esac; done'
    )
    out = container.exec("sh", "-c", script)
    return [line for line in out.splitlines() if line]


def infer(port: int, model_id: str) -> httpx.Response:
    body = {"model_id": model_id, "image": example_image()}
    url = f"http://127.0.0.1:{port}/infer/object_detection"
    return httpx.post(url, json=body, timeout=120)


def test_the_image_serves_as_the_readme_says_and_stops_clean(
    image: str, volume: str, stand_in: FakeRoboflow
) -> None:
    port = free_port()
    env = ["-e", f"API_BASE_URL=http://host.containers.internal:{stand_in.url.rsplit(':', 1)[1]}"]
    env += ["-e", f"ROBOFLOW_API_KEY={GOOD_KEY}"]
    with running(image, f"rfserve-test-{port}", options_for(port, volume, *env)) as container:
        ready_s = container.wait_ready(f"http://127.0.0.1:{port}", READY_BOUND_S)
        print(f"ready after {ready_s:.1f} s")

        answer, shown = readme_example(port)
        assert_same_boxes(answer, shown, tolerance=0.1)  # the README rounds to 0.1 px

        assert container.exec("id", "-u") == "10001", "the image's user, not root"
        assert "Uid:\t10001" in container.exec("cat", "/proc/1/status")
        container.exec("touch", "/cache/written-by-the-image-user")
        podman("healthcheck", "run", container.name)  # exit 0: healthy
        assert container.state()["Health"]["Status"] == "healthy"  # type: ignore[index]

        bad = httpx.post(
            f"http://127.0.0.1:{port}/infer/object_detection",
            json={"model_id": "shapes-detection/1", "image": {"type": "base64", "value": "nope"}},
            timeout=30,
        )
        assert 400 <= bad.status_code < 500 and "message" in bad.json(), bad.text

        fetched = infer(port, FETCHED)
        assert fetched.status_code == 200, fetched.text
        assert_same_boxes(fetched.json(), answer, tolerance=1e-3)
        assert stand_in.downloads(FETCHED) == 1
        assert FETCHED.split("/")[0] in container.exec("ls", "/cache")
        # An orphan, as a crashed actor leaves: the container's PID 1 adopts it, and
        # must reap it when it ends.
        orphan = container.exec("sh", "-c", "sleep 1 & echo $!")
        time.sleep(3)
        assert not zombies(container), f"PID 1 reaps every process that ends ({orphan})"

        seconds, code = container.stop(GRACE_PERIOD_S)
        print(f"stopped after {seconds:.1f} s, exit code {code}")
        assert code == 0, container.logs()
        assert seconds < GRACE_PERIOD_S, "stopped by SIGTERM, not by the SIGKILL after it"

        # The same container again, on the same volume: the model comes from /cache.
        asked = sum(stand_in.hits.values())
        container.start()
        container.wait_ready(f"http://127.0.0.1:{port}", READY_BOUND_S)
        again = infer(port, FETCHED)
        assert again.status_code == 200, again.text
        assert_same_boxes(again.json(), answer, tolerance=1e-3)
        assert sum(stand_in.hits.values()) == asked, stand_in.hits
        assert not zombies(container)
        seconds, code = container.stop(GRACE_PERIOD_S)
        assert code == 0 and seconds < GRACE_PERIOD_S, container.logs()


def test_the_image_runs_under_an_arbitrary_uid_in_group_0(
    image: str, volume: str, stand_in: FakeRoboflow
) -> None:
    port = free_port()
    env = ["-e", f"API_BASE_URL=http://host.containers.internal:{stand_in.url.rsplit(':', 1)[1]}"]
    env += ["-e", f"ROBOFLOW_API_KEY={GOOD_KEY}", "--user", "12345:0"]
    with running(image, f"rfserve-test-{port}", options_for(port, volume, *env)) as container:
        container.wait_ready(f"http://127.0.0.1:{port}", READY_BOUND_S)
        assert container.exec("id", "-u") == "12345"
        fetched = infer(port, FETCHED)
        assert fetched.status_code == 200, fetched.text
        assert stand_in.downloads(FETCHED) == 1, "fetched into /cache by that uid"
        seconds, code = container.stop(GRACE_PERIOD_S)
        assert code == 0 and seconds < GRACE_PERIOD_S, container.logs()
