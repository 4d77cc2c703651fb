"""Render the KubeRay manifests in ``k8s/`` from the cluster serve configs.

    python -m tools.render_k8s            # write k8s/
    python -m tools.render_k8s --check    # exit 1 where k8s/ differs from a fresh render

``k8s/{variant}/rfserve.yaml`` holds the cache claim and the RayService, whose
``serveConfigV2`` is the variant's ``configs/cluster-*.yaml`` word for word (comments
kept); ``kustomization.yaml`` and ``kustomizeconfig.yaml`` beside it let kustomize set
the image and namespace without editing rendered files; ``k8s/secret.example.yaml``
names the Secret's keys. The variants are described in :mod:`tools.k8s_manifests`.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tools.k8s_manifests import (
    ROOT,
    VARIANTS,
    cache_claim,
    kustomization,
    kustomize_config,
    ray_service,
    secret_example,
)

K8S = ROOT / "k8s"


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text (serveConfigV2) as a literal block, and every object in
    full where it repeats (a pod's requests and limits) rather than as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _document(header: str, *objects: dict[str, Any]) -> str:
    docs = [yaml.dump(obj, Dumper=_Dumper, sort_keys=False, width=100) for obj in objects]
    return header + "---\n".join(docs)


def render() -> dict[Path, str]:
    """Every file of ``k8s/`` and its text."""
    files: dict[Path, str] = {}
    for variant in VARIANTS:
        header = (
            f"# Rendered by `python -m tools.render_k8s` from {variant.serve_config} and\n"
            "# tools/k8s_manifests.py: edit those and render again. Image: "
            f"{variant.dockerfile}.\n"
        )
        folder = K8S / variant.name
        files[folder / "rfserve.yaml"] = _document(
            header, cache_claim(variant), ray_service(variant)
        )
        files[folder / "kustomization.yaml"] = _document(header, kustomization())
        files[folder / "kustomizeconfig.yaml"] = _document(header, kustomize_config())
    files[K8S / "secret.example.yaml"] = _document(
        "# An example only: create the real Secret with `kubectl create secret generic`\n"
        "# (README, Kubernetes). Every key is optional; leave out the ones you do not use.\n"
        "# Rendered by `python -m tools.render_k8s`.\n",
        secret_example(),
    )
    return files


def differences(files: dict[Path, str]) -> list[str]:
    """Unified diffs of every file that differs from its rendering, and the names of
    rendered-looking files that nothing renders any more."""
    problems = []
    for path, text in files.items():
        current = path.read_text() if path.is_file() else ""
        if current != text:
            name = str(path.relative_to(ROOT))
            problems.append(
                "".join(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        text.splitlines(keepends=True),
                        fromfile=f"{name} (committed)",
                        tofile=f"{name} (rendered)",
                    )
                )
            )
    for path in sorted(K8S.rglob("*.yaml")):
        if path not in files:
            problems.append(f"{path.relative_to(ROOT)}: not rendered; delete it\n")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render_k8s", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="only compare k8s/ with a fresh render"
    )
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        problems = differences(files)
        sys.stdout.write("".join(problems))
        return 1 if problems else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
