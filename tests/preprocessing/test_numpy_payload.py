"""NumPy payloads: what a header or a pickle declares is checked before anything is
allocated for it, and a pickle, where allowed, can build an array and nothing else."""

from __future__ import annotations

import io
import os
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serve_app.errors import InvalidImageError, PayloadTooLargeError
from serve_app.preprocessing.numpy_payload import load_numpy_image

MAX_PIXELS = 10_000
IMAGE = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
HUGE = (2**20, 2**20, 3)


def npy(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=version, allow_pickle=False)
    return out.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "|u1", fortran: bool = False) -> bytes:
    """A .npy header declaring ``shape`` of ``descr``, and no pixels after it."""
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


def load(data: bytes, allow_pickle: bool = False) -> np.ndarray:
    return load_numpy_image(data, allow_pickle, MAX_PIXELS)


@pytest.mark.parametrize(
    "array",
    [IMAGE, IMAGE[:, :, 0], IMAGE[:, :, :1], np.dstack([IMAGE, IMAGE[:, :, :1]])],
    ids=["bgr", "grey", "grey-1", "bgra"],
)
def test_image_arrays_load_as_they_were_saved(array: np.ndarray) -> None:
    np.testing.assert_array_equal(load(npy(array)), array)


def test_fortran_order_and_version_2_headers_load() -> None:
    np.testing.assert_array_equal(load(npy(np.asfortranarray(IMAGE))), IMAGE)
    np.testing.assert_array_equal(load(npy(IMAGE, version=(2, 0))), IMAGE)


def test_the_array_is_a_view_of_the_payload_not_a_copy() -> None:
    data = npy(IMAGE)
    assert load(data).base is not None
    assert not load(data).flags.owndata


def test_a_header_declaring_a_huge_image_is_refused_before_any_allocation() -> None:
    data = npy_header(HUGE)
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError, match="1048576x1048576"):
            load(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (npy_header((6, 8, 3), "<f4"), "uint8"),
        (npy_header((6, 8, 3), "|O"), "uint8"),
        (npy_header((6, 8, 2)), "C in 1, 3, 4"),
        (npy_header((48,)), "HxW"),
        (npy_header((2, 6, 8, 3)), "HxW"),
        (npy_header((0, 8, 3)), "empty"),
        (npy_header((60, 80, 3)) + b"\0" * 100, "declares 14400 bytes"),
        (b"\x93NUMPY\x09\x00garbage", "version"),
        (b"\x93NUMPY\x01\x00\x10\x00not a dict here!", "Invalid .npy"),
    ],
)
def test_what_no_image_is_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidImageError, match=message):
        load(data)


def test_pickles_are_refused_unless_allowed() -> None:
    with pytest.raises(InvalidImageError, match="RFSERVE_ALLOW_PICKLED_NUMPY"):
        load(pickle.dumps(IMAGE))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("array", [IMAGE, np.asfortranarray(IMAGE), IMAGE[:, :, 0]])
def test_allowed_pickles_of_image_arrays_load(protocol: int, array: np.ndarray) -> None:
    loaded = load(pickle.dumps(array, protocol=protocol), allow_pickle=True)
    np.testing.assert_array_equal(loaded, array)


class _Reduced:
    """Pickles as ``call(*args)``, then ``__setstate__(state)`` where a state is given."""

    def __init__(self, call: Any, args: tuple[Any, ...], state: Any = None) -> None:
        self._reduced = (call, args) if state is None else (call, args, state)

    def __reduce__(self) -> Any:
        return self._reduced


def test_an_allowed_pickle_cannot_call_a_function_of_its_choosing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    attack = pickle.dumps(_Reduced(os.system, (f"touch {marker}",)))
    with pytest.raises(InvalidImageError, match="not part of a NumPy array"):
        load(attack, allow_pickle=True)
    assert not marker.exists()


_reconstruct = np._core.multiarray._reconstruct  # noqa: SLF001 - what NumPy pickles name
_frombuffer = np._core.numeric._frombuffer  # noqa: SLF001


@pytest.mark.parametrize(
    ("attack", "error"),
    [
        # NumPy's own names, asking for a huge allocation each way they can.
        (_Reduced(_reconstruct, (np.ndarray, (2**40,), b"B")), InvalidImageError),
        (
            _Reduced(
                _reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, HUGE, np.dtype(object), False, [1, 2]),
            ),
            InvalidImageError,
        ),
        (
            _Reduced(_reconstruct, (np.ndarray, (0,), b"b"), (1, HUGE, np.dtype("u1"), False, b"")),
            PayloadTooLargeError,
        ),
        (_Reduced(_frombuffer, (b"abc", np.dtype("u1"), HUGE, "C")), PayloadTooLargeError),
        (_Reduced(_frombuffer, (b"abc", np.dtype("u1"), (60, 80, 3), "C")), InvalidImageError),
        (_Reduced(np.zeros, (HUGE, np.uint8)), InvalidImageError),
    ],
    ids=["reconstruct-huge", "object-state", "state-huge", "frombuffer-huge", "short", "zeros"],
)
def test_an_allowed_pickle_cannot_make_the_server_allocate(
    attack: _Reduced, error: type[Exception]
) -> None:
    data = pickle.dumps(attack, protocol=4)
    tracemalloc.start()
    try:
        with pytest.raises(error):
            load(data, allow_pickle=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_an_allowed_pickle_of_something_else_is_not_an_image() -> None:
    with pytest.raises(InvalidImageError, match="not an array"):
        load(pickle.dumps([1, 2, 3]), allow_pickle=True)
