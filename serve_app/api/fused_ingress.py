"""The fused composition: ingress, preprocessing stage and model host in one replica.

The same FastAPI app as the split graph's ingress (``api/ingress.py``), but the
request dispatcher hands each group to a :class:`PreprocessStage` in this process,
which runs it on this process's :class:`ModelHost`: a request crosses no deployment
hop at all. For one machine and small devices.
"""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.api.dispatch import RequestDispatcher
from serve_app.api.ingress import create_app
from serve_app.api.model_manager import ModelManager
from serve_app.api.policy import IngressPolicy
from serve_app.config import BatchingConfig, GroupingConfig, ServerSettings
from serve_app.core.engines import EngineOptions
from serve_app.core.predictions import RequestResult
from serve_app.core.requests import RequestGroup
from serve_app.preprocessing.image_loading import LoadPolicy
from serve_app.preprocessing.stage import PreprocessStage
from serve_app.registry import RegistryHandle
from serve_app.registry.in_process import in_process_registry
from serve_app.replica.host import ModelHost


@serve.deployment
@serve.ingress()
class FusedIngress:
    """The fused composition: ingress, preprocessing and model host in one replica."""

    def __init__(
        self,
        settings: ServerSettings,
        engine: EngineOptions,
        batching: BatchingConfig,
        grouping: GroupingConfig,
        preprocessing_threads: int,
        registry: DeploymentHandle | None,
        policy: IngressPolicy,
    ) -> None:
        """``registry`` None: this is the only replica, and keeps the registry itself."""
        registry_handle: RegistryHandle = (
            in_process_registry(settings.preload_models) if registry is None else registry
        )
        self._host = ModelHost(settings, engine, batching)
        self._host.start(registry_handle)  # Serve runs __init__ on the replica's event loop
        self._stage = PreprocessStage(LoadPolicy.from_settings(settings), preprocessing_threads)
        self._dispatcher = RequestDispatcher(self._run_group, grouping)
        self._models = ModelManager(self._host, registry_handle)
        self._policy = policy

    async def _run_group(self, group: RequestGroup) -> list[RequestResult | BaseException]:
        return await self._stage.run_group(group, self._host)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._dispatcher, self._models, self._policy)

    def stats(self) -> dict[str, object]:
        return {
            "dispatched": self._dispatcher.stats(),
            "preprocessing": self._stage.stats(),
            "model": self._host.stats(),
        }
