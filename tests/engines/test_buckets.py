"""Batch buckets: which sizes are built, which bucket a batch pads to, how it is split."""

from __future__ import annotations

import pytest

from serve_app.engines.buckets import batch_buckets, bucket_for, chunk_spans


@pytest.mark.parametrize(
    ("max_batch", "fixed", "expected"),
    [
        (1, None, (1,)),
        (8, None, (1, 2, 4, 8)),
        (12, None, (1, 2, 4, 8, 12)),
        (32, None, (1, 2, 4, 8, 16, 32)),
        (32, 1, (1,)),
        (8, 4, (4,)),
    ],
)
def test_buckets(max_batch: int, fixed: int | None, expected: tuple[int, ...]) -> None:
    assert batch_buckets(max_batch, fixed) == expected


@pytest.mark.parametrize(("count", "bucket"), [(1, 1), (2, 2), (3, 4), (5, 8), (9, 12), (12, 12)])
def test_a_batch_pads_to_the_smallest_bucket_holding_it(count: int, bucket: int) -> None:
    assert bucket_for(count, (1, 2, 4, 8, 12)) == bucket


def test_no_bucket_holds_more_than_the_largest() -> None:
    with pytest.raises(ValueError):
        bucket_for(9, (1, 2, 4, 8))
    with pytest.raises(ValueError):
        batch_buckets(0)


def test_chunks_cover_every_image_once_in_order() -> None:
    assert list(chunk_spans(0, 4)) == []
    assert list(chunk_spans(9, 4)) == [(0, 4), (4, 8), (8, 9)]
