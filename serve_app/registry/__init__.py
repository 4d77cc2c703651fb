"""The model registry: which replica holds which model; unloading from all of them."""

from serve_app.registry.config import RegistryConfig
from serve_app.registry.deployment import ModelRegistry
from serve_app.registry.in_process import RegistryHandle
from serve_app.registry.records import ModelRecord, Orders, RegisteredModel, ReplicaRef

__all__ = [
    "ModelRecord",
    "ModelRegistry",
    "Orders",
    "RegisteredModel",
    "RegistryConfig",
    "RegistryHandle",
    "ReplicaRef",
]
