"""The one adapter to Ray Serve's private multiplexing internals fails at start-up, by
name, when a Ray release moves them; the release pinned has them."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from types import SimpleNamespace

import pytest
from ray.serve.multiplex import _ModelMultiplexWrapper

from serve_app.replica.multiplexed import check_multiplex_internals

PRESENT = {"models": OrderedDict, "_model_load_tasks": set, "_push_multiplexed_replica_info": bool}


def test_the_internals_it_needs_pass_the_check() -> None:
    check_multiplex_internals(SimpleNamespace(**{name: kind() for name, kind in PRESENT.items()}))


def test_the_pinned_release_sets_them_where_the_adapter_reads_them() -> None:
    """Read from the wrapper's source: it cannot be made outside a replica."""
    source = inspect.getsource(_ModelMultiplexWrapper.__init__)
    assert all(f"self.{name}" in source for name in PRESENT)


@pytest.mark.parametrize("missing", list(PRESENT))
def test_a_missing_internal_is_named_at_start_up(missing: str) -> None:
    present = {name: kind() for name, kind in PRESENT.items() if name != missing}
    with pytest.raises(RuntimeError, match=missing):
        check_multiplex_internals(SimpleNamespace(**present))
