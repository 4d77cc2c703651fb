"""The fused composition: ingress, preprocessing stage and model host in one replica.

The same FastAPI app as the split graph's ingress (``api/ingress.py``), but the
request dispatcher hands each group to a :class:`PreprocessStage` in this process,
which runs it on this process's :class:`ModelHost`: a request crosses no deployment
hop at all. For one machine and small devices. It is a composition, not a stage: the
application builder (``app.py``) gives it each stage's config and binds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.api.config import IngressConfig
from serve_app.api.dispatch import RequestDispatcher
from serve_app.api.ingress import create_app
from serve_app.api.model_admin import ModelAdmin
from serve_app.core.predictions import RequestResult
from serve_app.core.requests import RequestGroup
from serve_app.preprocessing.config import PreprocessConfig
from serve_app.preprocessing.stage import PreprocessStage
from serve_app.registry import RegistryConfig, RegistryHandle
from serve_app.registry.in_process import in_process_registry
from serve_app.replica.config import ModelReplicaConfig
from serve_app.replica.host import ModelHost


@dataclass(frozen=True)
class FusedConfig:
    """Each stage's config, for the one replica that runs them all."""

    ingress: IngressConfig
    preprocessing: PreprocessConfig
    model: ModelReplicaConfig
    registry: RegistryConfig
    """The registry this replica keeps itself when it is given no handle to one."""


@serve.deployment
@serve.ingress()
class FusedIngress:
    """The fused composition: ingress, preprocessing and model host in one replica."""

    def __init__(self, config: FusedConfig, *, registry: DeploymentHandle | None = None) -> None:
        """``registry`` None: this is the only replica, and keeps the registry itself."""
        registry_handle: RegistryHandle = (
            in_process_registry(config.registry) if registry is None else registry
        )
        self._dispatcher = RequestDispatcher(self._run_group, config.ingress.grouping)
        # A forward pass is alone only while the replica holds no other request at all.
        self._host = ModelHost(config.model, lambda: self._dispatcher.in_flight)
        self._host.start(registry_handle)  # Serve runs __init__ on the replica's event loop
        self._stage = PreprocessStage(config.preprocessing)
        self._models = ModelAdmin(self._host, registry_handle)
        self._policy = config.ingress.policy

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
