"""Export the bundled detector's architecture at another input size, untrained, for timing.

    python -m tools.export_timing_model OUT_DIR --size 640   # → OUT_DIR/shapes-detection-640/1

The network is the one ``tools.train_shapes detect`` trains (same layers, YOLOv8 output
layout), with fresh random weights: its forward pass costs what the trained one would
at that size, but its predictions mean nothing. Benchmarks use it to report figures for
a larger network (``bench/serve_bench.py --models-dir OUT_DIR --model
shapes-detection-640/1``); nothing serves it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tools.nets import DenseDetector  # noqa: E402
from tools.packaging import write_package  # noqa: E402
from tools.shapes import CLASS_NAMES  # noqa: E402
from tools.train_shapes import RECIPES  # noqa: E402


def export_timing_model(out_dir: Path, size: int) -> Path:
    """Write the untrained detector at ``size`` x ``size``; returns its package folder."""
    recipe = RECIPES["detect"]
    torch.manual_seed(0)
    model = DenseDetector(len(CLASS_NAMES), size)
    folder = out_dir / f"shapes-detection-{size}" / "1"
    write_package(
        folder,
        model.export_module(),
        output_names=recipe.output_names,
        width=size,
        height=size,
        mode=recipe.mode,
        task=recipe.task,
        model_type=recipe.model_type,
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", type=int, default=640, help="square input side, pixels")
    args = parser.parse_args()
    print(export_timing_model(args.out_dir, args.size))


if __name__ == "__main__":
    main()
