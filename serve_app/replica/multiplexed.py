"""Serve's multiplexed model cache, plus what Serve does not offer.

``serve.multiplexed`` keeps up to ``capacity`` models per replica, evicts the least
recently used and tells Serve's router which models this replica holds. It cannot
list them, unload a given one, or count evictions; this class adds that, and is the
one place that touches Ray Serve's private multiplexing internals: the wrapper object
(``ray.serve.multiplex._ModelMultiplexWrapper``, which ``serve.multiplexed`` keeps on
the decorated function as ``__serve_multiplex_wrapper``), its OrderedDict ``models``
guarded by ``_model_cache_lock``, and ``_push_multiplexed_replica_info``, which makes
it announce the models to the router again. The wrapper is made here, when the
replica starts, and checked for all of them, so a Ray release that moves them fails
at start-up with a clear message rather than on some later unload. ``pyproject.toml``
pins Ray to the release this is tested with.

Serve hands the loader only a model id, so the API key of a request that needs a
model not yet loaded is kept here until the loader takes it: in memory, never logged.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import ray
from ray import serve
from ray.serve.multiplex import _ModelMultiplexWrapper

from serve_app.replica.loaded_model import LoadedModel

Loader = Callable[[str, str | None], Awaitable[LoadedModel]]

_WRAPPER_ATTR = "__serve_multiplex_wrapper"


class MultiplexedModels:
    """The models one replica holds in memory, through Serve's multiplexing."""

    def __init__(
        self, loader: Loader, capacity: int, on_evicted: Callable[[int], None] | None = None
    ) -> None:
        self._loader = loader
        self._on_evicted = on_evicted
        self._pending_keys: dict[str, str] = {}
        self._known: set[str] = set()
        self.evictions = 0
        self.changes = 0
        """Bumped whenever the set of held models changes, or the engine serving one."""

        # A plain function, not a bound method: Serve keeps its cache on it.
        async def load(model_id: str) -> LoadedModel:
            return await self._load(model_id)

        self._get = serve.multiplexed(max_num_models_per_replica=capacity)(load)
        # Made now rather than on the first load, so the internals can be checked.
        self._wrapper = _ModelMultiplexWrapper(load, None, capacity)
        setattr(load, _WRAPPER_ATTR, self._wrapper)
        check_multiplex_internals(self._wrapper)

    def offer_key(self, model_id: str, api_key: str | None) -> None:
        """Keep ``api_key`` for loading ``model_id``, if that load is still to come."""
        if api_key and model_id not in self.held():
            self._pending_keys[model_id] = api_key

    async def get(self, model_id: str) -> LoadedModel:
        """The model, loaded first (evicting the least recently used) if need be."""
        model: LoadedModel = await self._get(model_id)
        return model

    def held(self) -> dict[str, LoadedModel]:
        """Loaded models by multiplexed model id, least recently used first."""
        return dict(self._wrapper.models)

    async def unload(self, model_ids: Iterable[str]) -> list[str]:
        """Drop these models; returns those that were held. Batches already running
        keep their reference and finish."""
        wrapper = self._wrapper
        async with wrapper._model_cache_lock:
            gone = [m for m in model_ids if wrapper.models.pop(m, None) is not None]
            if gone:
                wrapper._push_multiplexed_replica_info = True  # tell the router soon
        if gone:
            self._known.difference_update(gone)
            self.changes += 1
        return gone

    async def _load(self, model_id: str) -> LoadedModel:
        # Serve calls this under its cache lock, right after evicting the least
        # recently used model if the replica was full.
        held = set(self.held())
        if self._known - held:
            evicted = len(self._known - held)
            self.evictions += evicted
            self.changes += 1
            if self._on_evicted is not None:
                self._on_evicted(evicted)
        self._known = held
        model = await self._loader(model_id, self._pending_keys.pop(model_id, None))
        self._known.add(model_id)
        self.changes += 1
        return model


def check_multiplex_internals(wrapper: Any) -> None:
    """Fail at start-up, saying what is missing, if Serve's multiplexing changed."""
    expected = {
        "models": OrderedDict,
        "_model_cache_lock": asyncio.Lock,
        "_push_multiplexed_replica_info": bool,
    }
    missing = [
        name
        for name, kind in expected.items()
        if not isinstance(getattr(wrapper, name, None), kind)
    ]
    if missing:
        raise RuntimeError(
            f"Ray Serve {ray.__version__} lacks the multiplexing internals "
            f"serve_app/replica/multiplexed.py relies on ({', '.join(missing)}); use the "
            "Ray release pyproject.toml pins"
        )
