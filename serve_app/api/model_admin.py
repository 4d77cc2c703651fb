"""The ingress's client of the model registry and the model stage, behind
``/model/*`` and ``/readiness``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from serve_app.core.stages import ModelStage
from serve_app.registry import RegisteredModel, RegistryHandle


@dataclass
class ModelAdmin:
    """What ``/model/*`` and ``/readiness`` do: load through the model stage, unload
    and list through the model registry."""

    model: ModelStage
    registry: RegistryHandle

    async def add(self, model_id: str, api_key: str | None) -> list[RegisteredModel]:
        """Load ``model_id`` on a model replica (one that holds it already, if any)."""
        await self.model.load(model_id, api_key)
        return await self.loaded()

    async def remove(self, model_id: str) -> list[RegisteredModel]:
        """Unload ``model_id`` from every replica holding it."""
        models: list[RegisteredModel] = await self.registry.unload.remote([model_id])
        return models

    async def clear(self) -> list[RegisteredModel]:
        models: list[RegisteredModel] = await self.registry.unload.remote(None)
        return models

    async def loaded(self) -> list[RegisteredModel]:
        models: list[RegisteredModel] = await self.registry.models.remote()
        return models

    async def missing_preloads(self) -> list[str]:
        missing: list[str] = await self.registry.missing_preloads.remote()
        return missing


async def get_model_admin(request: Request) -> ModelAdmin:
    """FastAPI dependency: the model manager of the ingress replica serving this request."""
    manager: ModelAdmin = request.app.state.models
    return manager
