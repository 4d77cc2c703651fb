"""Deploy the application on a running test cluster, its model replicas only where
``--resource`` is (a split graph's ingress and preprocessing on the head), and print
where each model replica landed as JSON; or wait until Ray has marked a
lost node dead. The node-loss test runs this as a driver on the head's machine, so
its own process never joins that cluster: ``python -m tests.cluster.deploy --address
HEAD:PORT --nodes 3 run --port HTTP --models DIR ...``, ``... --nodes 2 lost``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ray
from ray import serve

from serve_app.app import build_app
from serve_app.config import AppConfig, ServerSettings
from tests.serve_apps import replica_actors

APP = "rfserve"
MODEL_DEPLOYMENT = {"fused": "FusedIngress", "split": "ModelReplica"}
HEAD = {"node:__internal_head__": 0.001}
"""Ray's own resource of the head node: what pins a deployment there."""


def wait_for_alive_nodes(count: int, timeout_s: float) -> float:
    """Until exactly ``count`` nodes are alive (Ray has marked the rest dead); returns
    when, on ``time.monotonic()``'s clock (the machine's, as the test's is)."""
    deadline = time.monotonic() + timeout_s
    while sum(node["Alive"] for node in ray.nodes()) != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {count} Ray nodes alive after {timeout_s:g} s")
        time.sleep(0.2)
    return time.monotonic()


def replica_nodes(deployment: str) -> list[dict[str, object]]:
    """Each running replica's node: its id, address and whether it is the head. A
    replica still waiting for a node (its resource is nowhere free) is left out."""
    nodes = {node["NodeID"]: node for node in ray.nodes()}
    refs: list[ray.ObjectRef[str]] = [
        actor.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
        for actor in replica_actors(APP, deployment)
    ]
    running, _ = ray.wait(refs, num_returns=len(refs), timeout=10)
    placed = []
    for node_id in ray.get(running):
        node = nodes[node_id]
        placed.append(
            {
                "node_id": node_id,
                "address": node["NodeManagerAddress"],
                "head": "node:__internal_head__" in node["Resources"],
                "resources": sorted(node["Resources"]),
            }
        )
    return placed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="deploy, once --nodes nodes are alive")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--models", type=Path, required=True)
    run.add_argument("--cache", type=Path, required=True)
    run.add_argument("--replicas", type=int, required=True)
    run.add_argument("--resource", required=True)
    run.add_argument("--composition", choices=sorted(MODEL_DEPLOYMENT), default="fused")
    lost = commands.add_parser("lost", help="wait until only --nodes nodes are alive")
    lost.add_argument("--timeout", type=float, default=90)
    lost.add_argument("--composition", choices=sorted(MODEL_DEPLOYMENT), default="fused")
    args = parser.parse_args(argv)

    ray.init(address=args.address, log_to_driver=False)
    if args.command == "lost":
        marked_dead_at = wait_for_alive_nodes(args.nodes, args.timeout)
        replicas = replica_nodes(MODEL_DEPLOYMENT[args.composition])
        print(json.dumps({"marked_dead_at": marked_dead_at, "replicas": replicas}))
        return
    wait_for_alive_nodes(args.nodes, 60)
    # HAProxy on the head only: clients reach the service through the head's address.
    serve.start(proxy_location="HeadOnly", http_options={"host": "0.0.0.0", "port": args.port})
    on_head = {"num_cpus": 0.1, "resources": HEAD}
    config = AppConfig.model_validate(
        {
            "composition": args.composition,
            "ingress": on_head,
            "preprocessing": on_head,
            "model": {
                "num_replicas": args.replicas,
                "num_cpus": 0.1,
                "resources": {args.resource: 1},
            },
            "engine": {"backend": "onnxruntime", "num_threads": 1},
            "settings": ServerSettings(
                model_cache_dir=args.cache, local_models_dir=args.models, weight_sources=["local"]
            ),
        }
    )
    serve.run(build_app(config), name=APP, route_prefix="/")
    print(json.dumps({"replicas": replica_nodes(MODEL_DEPLOYMENT[args.composition])}))


if __name__ == "__main__":
    main(sys.argv[1:])
