"""The models one replica holds, announced to Serve's multiplexed routing.

Serve routes a call that names a model (``multiplexed_model_id``) to a replica that
holds it, from what each replica's multiplexing wrapper announces. Serve's own cache
behind that wrapper (``serve.multiplexed``) is not used: it limits models by count
and loads them one at a time under one lock, so a request for a model not yet
loaded waits for every other model's load. Here models are limited by memory
(``memory.py``), loads of different models run at once (each model's concurrent
requests share its one load), and a model is held, announced and, when the budget
is passed, the least recently used ones unloaded, all on the replica's event loop.

This is the one place that touches Ray Serve's private multiplexing internals: the
wrapper (``ray.serve.multiplex._ModelMultiplexWrapper``), its OrderedDict ``models``
(least recently used first), the set ``_model_load_tasks`` of models being loaded,
which it announces early so that their requests come here, and
``_push_multiplexed_replica_info``, which makes it announce the models again. The
wrapper is made when the replica starts and checked then, so a Ray release that moves
them fails at start-up with a clear message rather than on some later load.
``pyproject.toml`` pins Ray to the release this is tested with.

Serve hands the loader only a model id, so the API key of a request that needs a
model not yet loaded is kept here until the loader takes it: in memory, never logged.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import ray
from ray.serve.multiplex import _ModelMultiplexWrapper

from serve_app.replica.loaded_model import LoadedModel
from serve_app.replica.memory import ModelBudget

Loader = Callable[[str, str | None], Awaitable[LoadedModel]]

_UNBOUNDED = -1
"""The wrapper's own count limit: none (it never loads or evicts here)."""


class MultiplexedModels:
    """The models one replica holds in memory, through Serve's multiplexing."""

    def __init__(
        self,
        loader: Loader,
        budget: ModelBudget,
        on_evicted: Callable[[int], None] | None = None,
    ) -> None:
        self._loader = loader
        self.budget = budget
        self._on_evicted = on_evicted
        self._pending_keys: dict[str, str] = {}
        self._loading: dict[str, asyncio.Future[LoadedModel]] = {}
        self.evictions = 0
        self.changes = 0
        """Bumped whenever the set of held models changes, or the engine serving one."""

        async def never_called(model_id: str) -> LoadedModel:
            raise RuntimeError("models are loaded by MultiplexedModels, not by Serve")

        self._wrapper = _ModelMultiplexWrapper(never_called, None, _UNBOUNDED)
        check_multiplex_internals(self._wrapper)
        self._models: OrderedDict[str, LoadedModel] = self._wrapper.models

    def offer_key(self, model_id: str, api_key: str | None) -> None:
        """Keep ``api_key`` for loading ``model_id``, if that load is still to come."""
        if api_key and model_id not in self._models:
            self._pending_keys[model_id] = api_key

    async def get(self, model_id: str) -> LoadedModel:
        """The model, loaded first if need be (then unloading the least recently used
        models while the replica holds more than its budget)."""
        model = self._models.get(model_id)
        if model is not None:
            self._models.move_to_end(model_id)
            return model
        loading = self._loading.get(model_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(model_id))
            self._loading[model_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(model_id, None))
        # A caller that gives up does not cancel the load the others wait for.
        return await asyncio.shield(loading)

    def held(self) -> dict[str, LoadedModel]:
        """Loaded models by multiplexed model id, least recently used first."""
        return dict(self._models)

    def loading(self) -> list[str]:
        """Models being loaded now."""
        return list(self._loading)

    def held_bytes(self) -> int:
        return sum(model.footprint_bytes for model in self._models.values())

    async def unload(self, model_ids: Iterable[str]) -> list[str]:
        """Drop these models; returns those that were held. Batches already running
        keep their reference and finish."""
        gone = [m for m in model_ids if self._models.pop(m, None) is not None]
        if gone:
            self._announce()
        return gone

    async def _load(self, model_id: str) -> LoadedModel:
        self._wrapper._model_load_tasks.add(model_id)
        self._wrapper._push_multiplexed_replica_info = True  # route its requests here now
        try:
            model = await self._loader(model_id, self._pending_keys.pop(model_id, None))
        finally:
            self._wrapper._model_load_tasks.discard(model_id)
        self._models[model_id] = model
        self._evict_beyond_budget()
        self._announce()
        return model

    def _evict_beyond_budget(self) -> None:
        """Unload the least recently used models while the replica holds more than its
        budget, keeping the one loaded last (alone, if it is larger than the budget)."""
        evicted = 0
        while len(self._models) > 1 and self.budget.over(len(self._models), self.held_bytes()):
            self._models.popitem(last=False)
            evicted += 1
        if evicted:
            self.evictions += evicted
            if self._on_evicted is not None:
                self._on_evicted(evicted)

    def _announce(self) -> None:
        self._wrapper._push_multiplexed_replica_info = True
        self.changes += 1


def check_multiplex_internals(wrapper: Any) -> None:
    """Fail at start-up, saying what is missing, if Serve's multiplexing changed."""
    expected = {
        "models": OrderedDict,
        "_model_load_tasks": set,
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
