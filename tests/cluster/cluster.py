"""A Ray head and workers as separate nodes on this machine: each in its own network
namespace with its own address where the machine allows (root, iproute2), else all
on loopback, told apart by their resources. ``RFSERVE_TEST_CLUSTER=loopback`` picks
the fallback on a machine that could do both."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.cluster.netns import Host, bridged_hosts, namespaces_unavailable
from tests.cluster.nodes import RAY, ROOT, RayNode, cluster_environment, start_node, wait_for_port
from tests.conftest import free_port

Variant = Literal["netns", "loopback"]


@dataclass
class Cluster:
    variant: Variant
    why: str
    """Why this variant runs (what the machine lacks, for the fallback)."""
    head: RayNode
    workers: list[RayNode]
    gcs_address: str
    env: dict[str, str]

    def head_command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as a process of the head's machine (in its namespace, if any)."""
        return self.head.host.command(argv) if self.head.host else list(argv)

    def start_on_head(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        """Start ``argv`` on the head's machine, its output piped back."""
        return subprocess.Popen(
            self.head_command(argv),
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def kill_all(nodes: Sequence[RayNode]) -> None:
    for node in reversed(nodes):
        node.kill()


def choose_variant() -> tuple[Variant | None, str]:
    """The variant this machine can run and why; None when it can run neither."""
    if not Path(RAY).is_file():
        return None, f"no `ray` command beside {Path(RAY).parent}/python"
    if os.environ.get("RFSERVE_TEST_CLUSTER") == "loopback":
        return "loopback", "RFSERVE_TEST_CLUSTER=loopback"
    missing = namespaces_unavailable()
    if missing is None:
        return "netns", "network namespaces joined by a bridge, one address per node"
    return "loopback", f"nodes on loopback: {missing}"


@contextmanager
def ray_cluster(
    variant: Variant,
    why: str,
    *,
    workers: int,
    head_cpus: float,
    worker_cpus: float,
    worker_resources: Mapping[str, float],
    env: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """A head with ``head_cpus`` and ``workers`` workers that alone hold
    ``worker_resources``, their processes started with ``env`` on top of
    :func:`cluster_environment`; every node is killed and every namespace deleted on
    exit."""
    folder = Path(tempfile.mkdtemp(prefix="rfs-"))  # short: Ray's socket paths
    environment = {**cluster_environment(folder), **(env or {})}
    nodes: list[RayNode] = []
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        hosts: Sequence[Host | None]
        if variant == "netns":
            hosts = stack.enter_context(bridged_hosts(workers + 1))
        else:
            hosts = [None] * (workers + 1)
        # Registered after the namespaces, so it runs before they are deleted.
        stack.callback(kill_all, nodes)
        address = [h.address if h else "127.0.0.1" for h in hosts]
        gcs_port = free_port()
        head = start_node(
            "head", address[0], temp_dir=folder, env=environment, gcs_port=gcs_port,
            num_cpus=head_cpus, host=hosts[0],
        )  # fmt: skip
        nodes.append(head)
        wait_for_port(address[0], gcs_port, head)
        gcs = f"{address[0]}:{gcs_port}"
        for i in range(1, workers + 1):
            nodes.append(
                start_node(
                    f"w{i}",
                    address[i],
                    temp_dir=folder,
                    env=environment,
                    head_gcs=gcs,
                    num_cpus=worker_cpus,
                    resources=worker_resources,
                    host=hosts[i],
                )  # fmt: skip
            )
        yield Cluster(variant, why, head, nodes[1:], gcs, environment)
