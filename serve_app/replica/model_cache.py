"""Serve's multiplexed model cache, plus what Serve does not offer.

``serve.multiplexed`` keeps up to ``capacity`` models per replica, evicts the least
recently used and tells Serve's router which models this replica holds. It cannot
list them, unload a given one, or count evictions; this class adds that. It relies
on private details of Ray Serve 2.60's ``_ModelMultiplexWrapper``: the wrapper is
stored on the decorated function as ``__serve_multiplex_wrapper``, keeps models in
the OrderedDict ``models`` guarded by ``_model_cache_lock``, and re-announces them to
the router when ``_push_multiplexed_replica_info`` is set. The model route tests
fail if an upgrade moves them.

Serve hands the loader only a model id, so the API key of a request that needs a
model not yet loaded is kept here until the loader takes it: in memory, never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ray import serve

from serve_app.replica.loaded_model import LoadedModel

Loader = Callable[[str, str | None], Awaitable[LoadedModel]]

_WRAPPER_ATTR = "__serve_multiplex_wrapper"


class ModelCache:
    def __init__(self, loader: Loader, capacity: int) -> None:
        self._loader = loader
        self._pending_keys: dict[str, str] = {}
        self._known: set[str] = set()
        self.evictions = 0
        self.changes = 0
        """Bumped whenever the set of held models changes, or the engine serving one."""

        # A plain function, not a bound method: Serve keeps its cache on it.
        async def load(model_id: str) -> LoadedModel:
            return await self._load(model_id)

        self._load_fn = load
        self._get = serve.multiplexed(max_num_models_per_replica=capacity)(load)

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
        wrapper = self._wrapper()
        return dict(wrapper.models) if wrapper is not None else {}

    async def unload(self, model_ids: Iterable[str]) -> list[str]:
        """Drop these models; returns those that were held. Batches already running
        keep their reference and finish."""
        wrapper = self._wrapper()
        if wrapper is None:
            return []
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
            self.evictions += len(self._known - held)
            self.changes += 1
        self._known = held
        model = await self._loader(model_id, self._pending_keys.pop(model_id, None))
        self._known.add(model_id)
        self.changes += 1
        return model

    def _wrapper(self) -> Any:
        # Serve creates it on the first call of the decorated function.
        return getattr(self._load_fn, _WRAPPER_ATTR, None)
