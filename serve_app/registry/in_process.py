"""The model registry inside the one replica of a fused, single-replica server.

With one replica there is nothing to coordinate between processes, so the registry
runs in that replica, called through the same ``.method.remote(...)`` surface as its
deployment handle, and costs no deployment and no process of its own (edge devices).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ray.serve.handle import DeploymentHandle

from serve_app.registry.config import RegistryConfig
from serve_app.registry.deployment import ModelRegistry


class InProcessHandle:
    """Calls an object's methods as a deployment handle calls a replica's."""

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> _Method:
        return _Method(getattr(self._target, name))


class _Method:
    def __init__(self, method: Callable[..., Any]) -> None:
        self._method = method

    async def remote(self, *args: Any, **kwargs: Any) -> Any:
        result = self._method(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


RegistryHandle = DeploymentHandle | InProcessHandle
"""How the stages reach the model registry: its deployment, or the one in this process."""


def in_process_registry(config: RegistryConfig) -> InProcessHandle:
    """A registry of this process's own (on the event loop it is made on)."""
    # The deployment's own class, not the Serve deployment wrapping it.
    registry_class: Any = ModelRegistry.func_or_class  # type: ignore[attr-defined]
    return InProcessHandle(registry_class(config))
