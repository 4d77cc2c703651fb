"""The one adapter to Ray Serve's private multiplexing internals fails at start-up, by
name, when a Ray release moves them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from types import SimpleNamespace

import pytest

from serve_app.replica.multiplexed import check_multiplex_internals


def test_the_internals_it_needs_pass_the_check() -> None:
    wrapper = SimpleNamespace(
        models=OrderedDict(), _model_cache_lock=asyncio.Lock(), _push_multiplexed_replica_info=False
    )
    check_multiplex_internals(wrapper)


@pytest.mark.parametrize(
    "missing", ["models", "_model_cache_lock", "_push_multiplexed_replica_info"]
)
def test_a_missing_internal_is_named_at_start_up(missing: str) -> None:
    present = {
        "models": OrderedDict(),
        "_model_cache_lock": asyncio.Lock(),
        "_push_multiplexed_replica_info": False,
    }
    del present[missing]
    with pytest.raises(RuntimeError, match=missing):
        check_multiplex_internals(SimpleNamespace(**present))
