"""Lay out model packages the way ``../shared/peer``'s stand-in Roboflow API serves them,
so Roboflow's own server can load the same models in a side-by-side run.

    python -m bench.peer_models OUT_DIR [MODEL_ID ...]   # default: every bundled model
    python -m bench.peer_models --models-dir DIR OUT_DIR MODEL_ID   # a package in DIR

Each ``OUT_DIR/{dataset}/{version}/`` gets ``weights.onnx`` and ``environment.json`` as
they are, plus ``meta.json`` (task, model type, class names) from the package.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from serve_app.core.ids import ModelId
from serve_app.core.spec import ModelPackage
from serve_app.weights.config import BUNDLED_MODELS_DIR
from serve_app.weights.package import ENVIRONMENT_FILE, WEIGHTS_FILE, read_package


def write_peer_model(package: ModelPackage, out_dir: Path) -> Path:
    spec = package.spec
    folder = out_dir / spec.model_id.relative_path
    folder.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_FILE, ENVIRONMENT_FILE):
        shutil.copyfile(package.path / name, folder / name)
    meta = {"type": spec.task.value, "modelType": spec.model_type, "classes": spec.class_names}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("model_ids", nargs="*")
    parser.add_argument("--models-dir", type=Path, default=BUNDLED_MODELS_DIR)
    args = parser.parse_args()
    model_ids = args.model_ids or [
        f"{folder.parent.parent.name}/{folder.parent.name}"
        for folder in sorted(args.models_dir.glob(f"*/*/{WEIGHTS_FILE}"))
    ]
    for model_id in model_ids:
        mid = ModelId.parse(model_id)
        package = read_package(mid, args.models_dir / mid.relative_path)
        print(write_peer_model(package, args.out_dir))


if __name__ == "__main__":
    main()
