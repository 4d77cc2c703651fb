"""Where an image lands in the network input, and the map back: the geometry of the
resize, shared by every path that resizes (the CPU preprocessing stage, and resizing
on a device), so each gives the network the same pixels and puts predictions back in
the same place. Pure arithmetic: no pixels are touched here."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.core.frames import FrameTransform, ResizeMode


@dataclass(frozen=True)
class Placement:
    """Where an image lands in the network input: resized to ``width`` x ``height`` and
    placed at (``left``, ``top``), the rest padded; ``frame`` maps predictions back.

    """

    width: int
    height: int
    left: int
    top: int
    frame: FrameTransform


def input_placement(w: int, h: int, width: int, height: int, mode: ResizeMode) -> Placement:
    """The placement of a ``w`` x ``h`` image in a ``width`` x ``height`` input."""
    if mode is ResizeMode.STRETCH:
        return Placement(width, height, 0, 0, FrameTransform(w, h, width / w, height / h))
    new_w, new_h = fit_size(w, h, width, height)
    return Placement(
        new_w,
        new_h,
        (width - new_w) // 2,
        (height - new_h) // 2,
        fit_transform(w, h, width, height),
    )


def fit_size(w: int, h: int, width: int, height: int) -> tuple[int, int]:
    """Size a ``w`` x ``h`` image is resized to before a Fit mode pads it to
    ``width`` x ``height``: the side that fills the input is exact, the other
    truncated toward zero, as Roboflow's server computes it."""
    image_ratio, input_ratio = w / h, width / height
    if image_ratio >= input_ratio:
        return width, max(1, int(width / image_ratio))
    return max(1, int(height * image_ratio)), height


def fit_transform(w: int, h: int, width: int, height: int) -> FrameTransform:
    """The map back from a Fit-mode input, as Roboflow's server maps boxes back.

    One scale for both axes (the smaller ratio) and padding of half the margin left
    by the image *rounded* to that scale, which may be half a pixel off where
    :func:`fit_size` truncated; kept so boxes land on Roboflow's to the pixel.
    """
    scale = min(width / w, height / h)
    pad_x = (width - round(w * scale)) / 2
    pad_y = (height - round(h * scale)) / 2
    return FrameTransform(w, h, scale_x=scale, scale_y=scale, pad_x=pad_x, pad_y=pad_y)
