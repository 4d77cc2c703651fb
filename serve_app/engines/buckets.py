"""Batch-size buckets: the few batch sizes an optimised engine is built for.

CUDA graphs and traced programs have fixed shapes, so a batch runs padded up to the
smallest bucket that holds it, and a batch larger than the largest bucket runs in
chunks. Powers of two up to the deployment's ``max_batch_size`` (and that size
itself) keep padding under half a batch with a handful of captures; a network
exported with a fixed batch has that one bucket.
"""

from __future__ import annotations

from collections.abc import Iterator


def batch_buckets(max_batch_size: int, fixed_batch: int | None = None) -> tuple[int, ...]:
    """The bucket sizes, ascending."""
    if fixed_batch is not None:
        return (fixed_batch,)
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    sizes, size = [], 1
    while size < max_batch_size:
        sizes.append(size)
        size *= 2
    return (*sizes, max_batch_size)


def bucket_for(count: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket holding ``count`` images (``count`` ≤ the largest)."""
    for size in buckets:
        if count <= size:
            return size
    raise ValueError(f"{count} images exceed the largest bucket, {buckets[-1]}")


def chunk_spans(count: int, largest: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive chunks of at most ``largest`` images."""
    for start in range(0, count, largest):
        yield start, min(start + largest, count)
