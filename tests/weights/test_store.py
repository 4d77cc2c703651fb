"""The model cache: verified files, atomic packages, one fetch per model, quarantine."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from serve_app.app import weight_sources
from serve_app.config import ServerSettings
from serve_app.core.ids import ModelId
from serve_app.errors import (
    IncompleteDownloadError,
    MissingApiKeyError,
    ModelLoadError,
    ModelNotFoundError,
    ServeAppError,
    UnauthorizedError,
    UpstreamUnavailableError,
)
from serve_app.weights.download import write_verified
from serve_app.weights.store import (
    QUARANTINE_DIR,
    STAGING_DIR,
    PackageStore,
    build_source,
    package_store,
)

MODEL = "shapes/1"


class CountingSource:
    """Packages from a folder; counts fetches, and can fail or be slow first."""

    def __init__(self, root: Path, error: ServeAppError | None = None, delay_s: float = 0.0):
        self.name = f"counting:{root.name}"
        self._root = root
        self._error = error
        self._delay_s = delay_s
        self._guard = threading.Lock()
        self.fetches = 0

    def where(self, model_id: ModelId) -> str:
        return f"the counting source {self._root / model_id.relative_path}"

    def fetch(self, model_id: ModelId, dest: Path, api_key: str | None) -> bool:
        with self._guard:
            self.fetches += 1
        time.sleep(self._delay_s)
        if self._error is not None:
            raise self._error
        src = self._root / model_id.relative_path
        if not (src / "weights.onnx").is_file():
            return False
        shutil.copytree(src, dest, dirs_exist_ok=True)
        return True


@pytest.fixture
def source_root(tmp_path: Path, fixture_models_dir: Path) -> Path:
    root = tmp_path / "source"
    shutil.copytree(fixture_models_dir / "fixture-yolov8/1", root / MODEL)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.mark.parametrize(
    ("size", "md5", "error"),
    [
        (None, None, None),
        (6, hashlib.md5(b"abcdef").hexdigest(), None),
        (6, hashlib.md5(b"abcdef").hexdigest().upper(), None),
        (7, None, "received 6 of 7"),
        (5, None, "received 6 of 5"),
        (6, hashlib.md5(b"abcdeX").hexdigest(), "checksum"),
    ],
)
def test_write_verified_keeps_only_files_that_match_the_announcement(
    tmp_path: Path, size: int | None, md5: str | None, error: str | None
) -> None:
    dest = tmp_path / "weights.onnx"
    if error is None:
        assert write_verified(dest, [b"abc", b"def"], expected_size=size, expected_md5=md5) == 6
        assert dest.read_bytes() == b"abcdef"
    else:
        with pytest.raises(IncompleteDownloadError, match=error):
            write_verified(dest, [b"abc", b"def"], expected_size=size, expected_md5=md5)
        assert not dest.exists()
    assert list(tmp_path.iterdir()) == ([dest] if error is None else [])


def test_write_verified_leaves_nothing_when_the_stream_breaks(tmp_path: Path) -> None:
    def broken() -> object:
        yield b"abc"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        write_verified(tmp_path / "weights.onnx", broken())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_cached_package_serves_with_no_source_at_all(source_root: Path, cache: Path) -> None:
    source = CountingSource(source_root)
    first = PackageStore(cache, [source]).package(MODEL)
    assert source.fetches == 1 and first.path == cache / MODEL
    # A new server (new store, nothing in memory) on the same cache, no sources.
    again = PackageStore(cache, []).package(MODEL)
    assert again.spec.class_names == first.spec.class_names and again.spec.input_width == 320
    assert not (cache / STAGING_DIR / MODEL).exists()


def test_concurrent_first_requests_fetch_once(source_root: Path, cache: Path) -> None:
    source = CountingSource(source_root, delay_s=0.3)
    # One store each, as separate replicas have: only the file lock can serialise them.
    stores = [PackageStore(cache, [source]) for _ in range(8)]
    with ThreadPoolExecutor(len(stores)) as pool:
        packages = list(pool.map(lambda store: store.package(MODEL), stores))
    assert source.fetches == 1
    assert {p.path for p in packages} == {cache / MODEL}


def test_corrupt_download_is_fetched_again_then_refused(source_root: Path, cache: Path) -> None:
    weights = source_root / MODEL / "weights.onnx"
    weights.write_bytes(weights.read_bytes()[:100])
    source = CountingSource(source_root)
    with pytest.raises(ModelLoadError):
        PackageStore(cache, [source]).package(MODEL)
    assert source.fetches == 2
    assert not (cache / MODEL).exists() and not (cache / STAGING_DIR / MODEL).exists()


def test_cached_package_gone_bad_is_set_aside_and_fetched_once_more(
    source_root: Path, cache: Path
) -> None:
    source = CountingSource(source_root)
    PackageStore(cache, [source]).package(MODEL)
    (cache / MODEL / "weights.onnx").write_bytes(b"\x00" * 64)  # a disk fault, say
    package = PackageStore(cache, [source]).package(MODEL)
    assert source.fetches == 2 and package.spec.input_height == 320
    assert (cache / QUARANTINE_DIR / MODEL / "weights.onnx").read_bytes() == b"\x00" * 64


@pytest.mark.parametrize("leftover", [f"{STAGING_DIR}/{MODEL}", MODEL])
def test_leftovers_of_a_crashed_fetch_are_discarded(
    source_root: Path, cache: Path, leftover: str
) -> None:
    stale = cache / leftover
    stale.mkdir(parents=True)
    (stale / "weights.onnx").write_bytes(b"half a model")
    package = PackageStore(cache, [CountingSource(source_root)]).package(MODEL)
    assert package.spec.input_width == 320
    assert (cache / MODEL / "weights.onnx").read_bytes() != b"half a model"


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # A failing source does not hide a later source that has the model...
        (UpstreamUnavailableError("down"), True, None),
        (UnauthorizedError("bad key"), True, None),
        # ...and explains the miss when no source has it.
        (UpstreamUnavailableError("down"), False, UpstreamUnavailableError),
        (None, False, ModelNotFoundError),
    ],
)
def test_sources_are_asked_in_order(
    tmp_path: Path,
    source_root: Path,
    cache: Path,
    first: ServeAppError | None,
    second: bool,
    expected: type[ServeAppError] | None,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    sources = [
        CountingSource(empty, error=first),
        CountingSource(source_root if second else empty),
    ]
    store = PackageStore(cache, list(sources))
    if expected is None:
        assert store.package(MODEL).spec.model_id == ModelId.parse(MODEL)
    else:
        with pytest.raises(expected):
            store.package(MODEL)
    assert [s.fetches for s in sources] == [1, 1]


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({}, []),
        ({"weight_sources": ["local", "s3", "roboflow"]}, ["roboflow"]),
        ({"s3_bucket": "models", "weight_sources": ["roboflow", "s3"]}, ["roboflow", "s3"]),
        ({"local_models_dir": Path("/models"), "weight_sources": ["local"]}, []),
    ],
)
def test_sources_follow_the_order_and_skip_s3_without_a_bucket(
    overrides: dict[str, object], names: list[str]
) -> None:
    settings = ServerSettings(**{"weight_sources": ["local"], **overrides})
    remote = weight_sources(settings).remote
    assert [build_source(source).name for source in remote] == names


def test_local_folders_are_read_in_place_and_never_go_stale(
    tmp_path: Path, source_root: Path, cache: Path, fixture_models_dir: Path
) -> None:
    settings = ServerSettings(
        model_cache_dir=cache, local_models_dir=source_root, weight_sources=["local"]
    )
    package = package_store(weight_sources(settings)).package(MODEL)
    assert package.path == source_root / MODEL
    assert not (cache / MODEL).exists(), "a local model must not be copied into the cache"
    # The folder changes (a new release of the model): a new store sees the new files.
    (source_root / MODEL / "class_names.txt").write_text("apple\npear\n")
    assert package_store(weight_sources(settings)).package(MODEL).spec.class_names == (
        "apple",
        "pear",
    )
    # Without "local" among the sources, the folder is not consulted at all.
    with pytest.raises(ModelNotFoundError):
        no_local = settings.model_copy(update={"weight_sources": []})
        package_store(weight_sources(no_local)).package(MODEL)


def test_a_model_in_no_source_is_a_404_naming_every_place_asked(
    tmp_path: Path, cache: Path
) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    store = PackageStore(cache, [CountingSource(remote)], local_dirs=[local])
    with pytest.raises(ModelNotFoundError) as error:
        store.package("no-such-model/7")
    message = str(error.value)
    for place in (local, cache, remote):
        assert str(place / "no-such-model" / "7") in message, message


def test_a_missing_key_is_a_401_only_where_the_rest_lack_the_model_and_says_so(
    tmp_path: Path, source_root: Path, cache: Path
) -> None:
    needs_key = CountingSource(tmp_path / "roboflow", error=MissingApiKeyError("needs a key"))
    store = PackageStore(cache, [CountingSource(tmp_path / "s3"), needs_key])
    with pytest.raises(MissingApiKeyError) as error:
        store.package("mistyped-model/1")
    message = str(error.value)
    assert str(tmp_path / "s3" / "mistyped-model" / "1") in message
    assert "roboflow" not in message.split(". ")[0], "Roboflow was not asked"
    assert "needs an API key" in message and "check the model id" in message
    # A source that has the model answers before the keyless one is ever a reason.
    store = PackageStore(cache, [CountingSource(source_root), needs_key])
    assert store.package(MODEL).spec.model_id == ModelId.parse(MODEL)


def test_an_unusable_package_cached_by_another_server_keeps_its_reason(
    source_root: Path, cache: Path
) -> None:
    shutil.copytree(source_root / MODEL, cache / MODEL)
    (cache / MODEL / "model_type.json").unlink()  # a task nobody can tell
    with pytest.raises(ModelLoadError) as error:
        PackageStore(cache, []).package(MODEL)
    message = str(error.value)
    assert f"{cache / MODEL / 'model_type.json'} is missing" in message
    assert "fetching it again failed" in message
    assert (cache / QUARANTINE_DIR / MODEL / "weights.onnx").is_file()
