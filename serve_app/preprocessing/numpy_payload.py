"""NumPy image payloads, checked before a byte is allocated for them.

A ``.npy`` payload (``numpy.save``) declares its shape and dtype in a header: both are
checked first, as image headers are (pixels against the limit, an image dtype and
shape, no more bytes declared than were sent), and the array is then a view of the
bytes that came: nothing is allocated for what the header claims.

A pickled array has no header to read first, and unpickling client data can run any
function the pickle names, so pickles are refused unless the operator allows them
(``RFSERVE_ALLOW_PICKLED_NUMPY``). Even then they are read by an unpickler that admits
only the names NumPy's array pickles use, and none of them as itself: each yields a
stand-in that records what the pickle says (shape, dtype, the pixel bytes it carries),
and the array is made from that record after the same checks as a ``.npy`` header's.
A pickle can then neither call a function of its choosing nor make the server
allocate more than the bytes it sent.
"""

from __future__ import annotations

import functools
import io
import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from serve_app.errors import InvalidImageError, PayloadTooLargeError, ServeAppError

NPY_MAGIC = b"\x93NUMPY"
CHANNELS = (1, 3, 4)
"""Grey, BGR and BGRA, as OpenCV makes images."""
_UINT8_CODES = frozenset({"u1", "|u1", "uint8", "B"})


def load_numpy_image(data: bytes, allow_pickle: bool, max_pixels: int) -> np.ndarray:
    """The HxW or HxWxC uint8 array ``data`` holds (``.npy`` bytes, or a pickle where
    allowed), checked against ``max_pixels`` before it is made."""
    if data.startswith(NPY_MAGIC):
        return _load_npy(data, max_pixels)
    if not allow_pickle:
        raise InvalidImageError(
            "NumPy payloads must use the .npy format (numpy.save); pickled arrays are "
            "refused unless the server sets RFSERVE_ALLOW_PICKLED_NUMPY=true"
        )
    return _load_pickle(data, max_pixels)


def check_image_array(shape: Sequence[int], dtype: np.dtype[Any], max_pixels: int) -> None:
    """Refuse what no image is: a dtype other than uint8 or a shape other than HxW or
    HxWxC (C in 1, 3, 4) with 400, more pixels than ``max_pixels`` with 413."""
    if dtype != np.uint8:
        raise InvalidImageError(f"NumPy image must be uint8, got {dtype}")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in CHANNELS):
        raise InvalidImageError(
            f"NumPy image must be HxW or HxWxC with C in 1, 3, 4; got {tuple(shape)}"
        )
    height, width = shape[0], shape[1]
    if height * width == 0:
        raise InvalidImageError("NumPy image is empty")
    check_pixels(width, height, max_pixels)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """413 for an image of more than ``max_pixels``, whatever declares its size."""
    if width * height > max_pixels:
        raise PayloadTooLargeError(
            f"Image of {width}x{height} pixels exceeds this server's limit of {max_pixels} "
            "pixels (RFSERVE_MAX_IMAGE_PIXELS)"
        )


def _load_npy(data: bytes, max_pixels: int) -> np.ndarray:
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise InvalidImageError(f"Unsupported .npy format version {version}")
    except ValueError as exc:
        raise InvalidImageError(f"Invalid .npy payload: {exc}") from None
    return _checked_view(memoryview(data)[stream.tell() :], dtype, shape, fortran_order, max_pixels)


def _checked_view(
    pixels: Any, dtype: Any, shape: Any, fortran_order: bool, max_pixels: int
) -> np.ndarray:
    """The image ``pixels`` hold, once what is declared of it passed the checks: a view
    of those bytes, no copy."""
    if isinstance(dtype, _PickledDtype):
        if dtype.code not in _UINT8_CODES:
            raise InvalidImageError(f"NumPy image must be uint8, got {dtype.code!r}")
        dtype = np.dtype(np.uint8)
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidImageError(f"NumPy image has no valid shape: {shape!r}")
    check_image_array(shape, dtype, max_pixels)
    count = math.prod(shape)
    buffer = memoryview(pixels).cast("B")
    if count > len(buffer):
        raise InvalidImageError(
            f"The array declares {count} bytes of pixels; the payload carries {len(buffer)}"
        )
    flat = np.frombuffer(buffer, dtype=np.uint8, count=count)
    return flat.reshape(shape, order="F" if fortran_order else "C")


class _PickledArray:
    """What a pickle's ``_reconstruct`` call gets instead of an array: its state is only
    recorded, and becomes an array once checked."""

    state: tuple[Any, ...] | None = None

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.state = state


class _PickledDtype:
    """What a pickle's ``numpy.dtype`` call gets: the type code it names."""

    def __init__(self, code: Any, align: Any = False, copy: Any = True) -> None:
        self.code = code.decode("latin1") if isinstance(code, bytes) else code

    def __setstate__(self, state: Any) -> None:
        """Byte order and flags: a uint8 has none that matter."""


_NDARRAY = object()
"""What a pickle's ``numpy.ndarray`` names: only ever the type to reconstruct."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> _PickledArray:
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError("only plain NumPy arrays are read")
    return _PickledArray()


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any, max_pixels: int) -> np.ndarray:
    """Pickle protocol 5's form: the pixels are bytes the pickle carries."""
    return _checked_view(buffer, dtype, shape, order == "F", max_pixels)


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol 2 writes bytes as ``_codecs.encode(text, "latin1")``."""
    return str(text).encode(encoding)


# numpy.core became numpy._core in NumPy 2; a pickle names the module it was written with.
_NAMES: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _PickledDtype,
    ("_codecs", "encode"): _encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, max_pixels: int) -> None:
        super().__init__(io.BytesIO(data))
        self._max_pixels = max_pixels

    def find_class(self, module: str, name: str) -> Any:
        found = _NAMES.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a NumPy array")
        if found is _frombuffer:
            return functools.partial(_frombuffer, max_pixels=self._max_pixels)
        return found


def _load_pickle(data: bytes, max_pixels: int) -> np.ndarray:
    try:
        loaded = _ArrayUnpickler(data, max_pixels).load()
        if isinstance(loaded, _PickledArray) and loaded.state is not None:
            _, shape, dtype, fortran_order, pixels = loaded.state
            loaded = _checked_view(pixels, dtype, shape, bool(fortran_order), max_pixels)
    except ServeAppError:
        raise
    except Exception as exc:  # a corrupt pickle can raise nearly anything
        raise InvalidImageError(f"Invalid pickled NumPy payload: {exc}") from None
    if not isinstance(loaded, np.ndarray):
        raise InvalidImageError("NumPy payload is not an array")
    return loaded
