"""``rfserve models pull`` and ``rfserve models list``: the model cache without a server.

``pull`` fills ``MODEL_CACHE_DIR`` from the configured weight sources (S3, Roboflow)
through the server's own store: the same staged, checked, locked fetch, so a server
running on the same cache meanwhile is safe, and a cache pulled on a connected
machine serves on an air-gapped one. ``list`` shows what the cache holds. Settings
come from the environment, as the server reads them (``MODEL_CACHE_DIR``,
``RFSERVE_WEIGHT_SOURCES``, ``ROBOFLOW_API_KEY``, ``RFSERVE_S3_*`` ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serve_app.launch.arguments import Commands, fail

if TYPE_CHECKING:
    from serve_app.config import ServerSettings
    from serve_app.weights.store import PackageStore


def add_parsers(commands: Commands) -> None:
    parser = commands.add_parser(
        "models",
        help="fill or list the model cache (MODEL_CACHE_DIR) without a server",
        description="Fill or list MODEL_CACHE_DIR with the server's settings, read from "
        "the environment, and no server running.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    pull = actions.add_parser(
        "pull",
        help="fetch models into the cache from the configured weight sources",
        description="Fetch models into MODEL_CACHE_DIR from the weight sources "
        "(RFSERVE_WEIGHT_SOURCES: S3, Roboflow), as the server fetches them on first use.",
    )
    pull.add_argument("model_ids", nargs="+", metavar="MODEL", help="dataset/version")
    pull.add_argument(
        "-a",
        "--api-key",
        help="Roboflow API key for these fetches (default: ROBOFLOW_API_KEY)",
    )
    pull.set_defaults(run=run_pull)
    listing = actions.add_parser(
        "list",
        help="show the models and built engines in the cache",
        description="Show each model in MODEL_CACHE_DIR: task, family, size on disk and "
        "the engines built for it.",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=run_list)


def load_settings() -> ServerSettings:
    from serve_app.config import ServerSettings

    return ServerSettings()


def open_store(settings: ServerSettings) -> PackageStore:
    """The store the server builds from the same settings: the one place this command
    line makes one."""
    from serve_app.weight_settings import weight_sources
    from serve_app.weights.store import package_store

    return package_store(weight_sources(settings))


def run_pull(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from serve_app.core.ids import ModelId
    from serve_app.errors import ServeAppError
    from serve_app.weights.local import is_complete_package

    try:
        settings = load_settings()
    except ValidationError as exc:
        return fail("rfserve models pull", f"invalid settings: {exc.errors()[0]['msg']}")
    store = open_store(settings)
    failed = 0
    for model_id in args.model_ids:
        try:
            mid = ModelId.parse(model_id)
            cached = is_complete_package(settings.model_cache_dir / mid.relative_path)
            start = time.perf_counter()
            with _progress_bars(str(mid)):
                package = store.package(str(mid), args.api_key)
        except ServeAppError as exc:
            failed += 1
            fail("rfserve models pull", f"{model_id}: {exc.message}")
            continue
        if not package.path.is_relative_to(settings.model_cache_dir):
            print(f"{mid}: in {store.origin(str(mid))}, served from there: nothing to pull")
        elif cached:
            print(f"{mid}: already in the cache, {package.path}")
        else:
            size = _human_size(_folder_bytes(package.path))
            seconds = time.perf_counter() - start
            print(f"{mid}: pulled from {store.origin(str(mid))}, {size} in {seconds:.1f} s")
    return 1 if failed else 0


@contextmanager
def _progress_bars(model_id: str) -> Iterator[None]:
    """A progress bar on stderr for each file the store downloads for ``model_id``."""
    from tqdm import tqdm

    from serve_app.weights.download import reporting_progress

    bars: dict[str, tqdm[Any]] = {}

    def report(name: str, done: int, total: int | None) -> None:
        bar = bars.get(name)
        if bar is None or done == 0:  # a new file, or a retry from the start
            if bar is not None:
                bar.close()
            bar = bars[name] = tqdm(
                total=total, desc=f"{model_id} {name}", unit="B", unit_scale=True, file=sys.stderr
            )
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    try:
        with reporting_progress(report):
            yield
    finally:
        for bar in bars.values():
            bar.close()


@dataclass(frozen=True)
class CachedModel:
    model_id: str
    task: str
    family: str
    size_bytes: int
    engines: list[str]
    """Each built engine: backend, precision and the device it was built for."""


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    models = list(cached_models(settings.model_cache_dir))
    if args.json:
        for model in models:
            print(json.dumps(asdict(model)))
        return 0
    print(f"MODEL_CACHE_DIR {settings.model_cache_dir}: {len(models)} model(s)")
    rows = [("MODEL", "TASK", "FAMILY", "SIZE", "ENGINES BUILT")]
    rows += [
        (m.model_id, m.task, m.family, _human_size(m.size_bytes), ", ".join(m.engines) or "-")
        for m in models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        padded = (cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        print("  ".join((*padded, row[4])))
    return 0


def cached_models(cache_dir: Path) -> Iterator[CachedModel]:
    """Every complete package under ``cache_dir``, by model id (dot folders are the
    store's own: staging, locks, quarantine, engines)."""
    from serve_app.engines.store import ENGINES_DIR
    from serve_app.errors import ModelLoadError
    from serve_app.weights.local import is_complete_package
    from serve_app.weights.package import MODEL_TYPE_FILE, read_model_type

    for folder in sorted(cache_dir.glob("[!.]*/[!.]*")):
        if not is_complete_package(folder):
            continue
        try:
            task, family = read_model_type(folder / MODEL_TYPE_FILE)
            task_name = task.value
        except ModelLoadError:  # no or a broken model_type.json: the server refuses it too
            task_name, family = "?", "?"
        model_id = f"{folder.parent.name}/{folder.name}"
        yield CachedModel(
            model_id,
            task_name,
            family,
            _folder_bytes(folder),
            _engines(cache_dir / ENGINES_DIR / model_id),
        )


def _engines(folder: Path) -> list[str]:
    from serve_app.engines.store import KEY_FILE

    built = []
    for key_file in sorted(folder.glob(f"*/{KEY_FILE}")):
        try:
            key = json.loads(key_file.read_text())
            built.append(f"{key['backend']} {key['precision']} on {key['device']['name']}")
        except (OSError, ValueError, KeyError, TypeError):
            built.append(key_file.parent.name)
    return built


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"
