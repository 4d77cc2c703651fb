"""Two worker nodes serve the model; one is lost under load. A head and two workers run
as separate Ray nodes (own network namespaces and addresses where the machine allows,
loopback otherwise), the model replicas only on the workers, HTTP through the head.
Clients see every request answered or refused cleanly, none hung, and the service
serving again on the other worker; the recovery time goes to the log and the report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from serve_app.config import Composition
from tests.cluster.cluster import Cluster, choose_variant, ray_cluster
from tests.cluster.nodes import RayNode
from tests.conftest import free_port
from tests.load import HANG_BOUND_S, LoadGenerator, Outcome, serving_again
from tests.support import b64_image, solid_image

pytestmark = [pytest.mark.multinode, pytest.mark.timeout(240)]

ROUTE = "/infer/object_detection"
RESOURCE = "model_node"
STREAK = 20
"""Serving again: this many requests in a row answered 200."""
RECOVERY_BOUND_S = 60.0
NODE_DEAD_BOUND_S = 90.0
"""Ray's health checks mark a silent node dead in about 15 to 30 s by default."""
HAPROXY_ERROR = "Internal Server Error"
"""What Serve's HAProxy answers (as a 500) when the replica it forwarded to is gone."""


Cut = Literal["node-killed", "link-cut"]
SERVER_TIMEOUT_S = 30
"""HAProxy's ``timeout server`` where a link is cut: half the fast path's 60 s, to keep
the test short. Without one (Serve's default) a request in flight to a replica that
went silent waits for an answer that never comes (TCP keeps retrying for minutes)."""


@dataclass(frozen=True)
class Case:
    composition: Composition
    """``fused``: the whole graph in each replica on a worker. ``split``: ingress and
    preprocessing on the head, model replicas on the workers, so the ingress's handle
    loses a replica instead of HAProxy losing a backend."""
    cut: Cut
    """How the worker is lost. ``node-killed``: every process of its node gets SIGKILL,
    as when a machine dies and its kernel still resets connections (or a raylet and its
    workers crash). ``link-cut``: its link goes down and its processes keep running,
    unreachable, as behind a failed switch; nothing resets a connection to it."""


CASES = [Case("fused", "node-killed"), Case("fused", "link-cut"), Case("split", "node-killed")]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c.composition}-{c.cut}")
def case(request: pytest.FixtureRequest) -> Case:
    value: Case = request.param
    return value


@pytest.fixture(scope="module")
def cluster(case: Case) -> Iterator[Cluster]:
    variant, why = choose_variant()
    if variant is None:
        pytest.skip(f"cannot run a multi-node Ray cluster here: {why}")
    if case.cut == "link-cut" and variant != "netns":
        pytest.skip(f"a link can be cut only between network namespaces ({why})")
    link_cut = case.cut == "link-cut"
    env = {"RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S": str(SERVER_TIMEOUT_S)} if link_cut else {}
    with ray_cluster(
        variant, why, workers=2, head_cpus=1, worker_cpus=1, worker_resources={RESOURCE: 1}, env=env
    ) as c:
        yield c


def driver(cluster: Cluster, nodes: int, *command: str) -> subprocess.Popen[str]:
    """``tests.cluster.deploy`` started on the head, expecting ``nodes`` nodes alive."""
    return cluster.start_on_head(
        [
            sys.executable,
            "-m",
            "tests.cluster.deploy",
            f"--address={cluster.gcs_address}",
            f"--nodes={nodes}",
            *command,
        ]  # fmt: skip
    )


def answer(process: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    """The JSON the driver printed last, once it has exited successfully."""
    try:
        out, err = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out + err[-4000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def service(
    case: Case,
    cluster: Cluster,
    fixture_models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, list[dict[str, Any]]]:
    """The head's base URL and where the replicas landed."""
    port = free_port()
    deploy = driver(
        cluster, 1 + len(cluster.workers), "run", f"--port={port}",
        f"--models={fixture_models_dir}", f"--cache={tmp_path_factory.mktemp('cache')}",
        f"--replicas={len(cluster.workers)}", f"--resource={RESOURCE}",
        f"--composition={case.composition}",
    )  # fmt: skip
    return f"http://{cluster.head.address}:{port}", answer(deploy, 150)["replicas"]


def test_losing_a_worker_node_under_load_fails_cleanly_and_serving_resumes_on_the_other(
    case: Case,
    cluster: Cluster,
    service: tuple[str, list[dict[str, Any]]],
    record_property: Callable[[str, object], None],
) -> None:
    url, placed = service
    record_property("cluster_variant", cluster.variant)
    cut = case.cut
    record_property("worker_lost_by", cut)
    record_property("composition", case.composition)
    print(
        f"\ncluster: {cluster.variant} ({cluster.why}); {case.composition} graph; "
        f"worker lost by {cut}"
    )
    # One replica on each worker, none on the head.
    assert_on_workers(cluster, placed, len(cluster.workers))
    body = {"model_id": "fixture-yolov8/1", "image": b64_image(solid_image(320, 320, (0, 0, 250)))}
    with LoadGenerator(f"{url}{ROUTE}", body, clients=4) as warm:
        assert warm.wait_until(serving=STREAK, since=0, timeout_s=60), "never served"

    with LoadGenerator(f"{url}{ROUTE}", body, clients=4) as load:
        time.sleep(3.0)
        killed_at = time.monotonic()
        lose(cluster.workers[0], cut)
        # Serving again is timed from before the loss, over requests sent after it: one
        # that slipped in ahead of the kill proves nothing.
        gone_at = time.monotonic()
        watcher = driver(
            cluster, len(cluster.workers), "lost", f"--timeout={NODE_DEAD_BOUND_S}",
            f"--composition={case.composition}",
        )  # fmt: skip
        load.wait_until(serving=STREAK, since=gone_at, timeout_s=RECOVERY_BOUND_S)
        # Still serving once Ray has marked the node dead and Serve has acted on it.
        lost = answer(watcher, NODE_DEAD_BOUND_S + 30)
        time.sleep(3.0)
        assert load.stop(), "a request hung"
    results = load.results
    assert_on_workers(cluster, lost["replicas"], 1)
    assert {p["node_id"] for p in lost["replicas"]} < {p["node_id"] for p in placed}

    statuses = Counter(r.status if r.status is not None else r.error for r in results)
    failed = [r for r in results if r.status != 200]
    assert not [r for r in failed if r.hung], statuses
    assert all(clean(r) for r in failed), [(r.status, r.error, r.body[:200]) for r in failed][:5]
    longest = max(r.end - r.start for r in results)
    recovered = serving_again(results, gone_at, STREAK)
    recovery = None if recovered is None else recovered - killed_at
    dead_after = lost["marked_dead_at"] - killed_at
    late = [r for r in failed if r.start > lost["marked_dead_at"]]
    record_property("recovery_s", None if recovery is None else round(recovery, 2))
    record_property("node_marked_dead_s", round(dead_after, 1))
    print(
        f"worker lost ({case.composition}, {cut}, {cluster.variant}): {statuses[200]} answered, "
        f"{len(failed)} failed "
        f"cleanly ({dict(statuses)}); {STREAK} in a row answered again "
        f"{'never' if recovery is None else f'{recovery:.2f} s'} after the kill; Ray marked "
        f"the node dead after {dead_after:.1f} s, {len(late)} failed after that; "
        f"longest request {longest:.1f} s"
    )
    assert longest < HANG_BOUND_S
    assert recovery is not None and recovery < RECOVERY_BOUND_S, "not serving again in time"
    assert serving_again(results, lost["marked_dead_at"], STREAK), "not serving after the loss"


def lose(worker: RayNode, cut: Cut) -> None:
    if cut == "node-killed":
        worker.kill()
    else:
        assert worker.host is not None
        worker.host.cut_off()


def assert_on_workers(cluster: Cluster, placed: list[dict[str, Any]], count: int) -> None:
    """``count`` replicas, each on its own worker, none on the head."""
    assert len({p["node_id"] for p in placed}) == len(placed) == count, placed
    assert not any(p["head"] for p in placed), placed
    assert all(RESOURCE in p["resources"] for p in placed), placed
    if cluster.variant == "netns":
        assert {p["address"] for p in placed} <= {w.address for w in cluster.workers}, placed


def clean(outcome: Outcome) -> bool:
    """A refusal a client can act on: a 5xx with the server's JSON error or HAProxy's
    own error page (its 502 and 504 too), or a connection closed without an answer
    (never a timeout)."""
    if outcome.status is None:
        return not outcome.hung
    return outcome.status >= 500 and (
        outcome.body.startswith('{"message":') or outcome.body == HAPROXY_ERROR
    )
