"""Every config in ``configs/`` validates and builds; the cluster-only ones place
every replica by a node label, and the others on any node of one machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.serve_configs import check_serve_config, deployments

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_serve_configs_validate_and_build(path: Path) -> None:
    check_serve_config(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_only_cluster_configs_need_node_labels(path: Path) -> None:
    # `serve run` must start every other config on one machine, whose Ray has no
    # labels of ours; a cluster config without them would pile replicas on the head.
    for application in yaml.safe_load(path.read_text())["applications"]:
        for name, deployment in deployments(application.get("args", {})).items():
            labelled = bool(deployment.label_selector or deployment.resources)
            assert labelled == path.name.startswith("cluster-"), name
