"""/model/* endpoints: load, unload and list models, as the Roboflow server does.

Each answers the models loaded afterwards (``{"models": [...]}``, Roboflow's
``ModelsDescriptions``) with, beyond Roboflow's fields, the replicas holding each.
Unloading reaches every model replica through the model registry
(``serve_app/registry``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from serve_app.api.caller import CallerDep
from serve_app.api.model_admin import ModelAdmin, get_model_admin
from serve_app.api.model_schemas import (
    AddModelRequest,
    BuildDescription,
    EngineDescription,
    ModelDescription,
    ModelLocation,
    ModelsDescriptions,
    RemoveModelRequest,
)
from serve_app.core.engines import EngineStatus
from serve_app.core.ids import ModelId
from serve_app.registry import RegisteredModel

router = APIRouter(tags=["models"])
Models = Annotated[ModelAdmin, Depends(get_model_admin)]


@router.post("/model/add", response_model=ModelsDescriptions, summary="Load a model")
async def model_add(body: AddModelRequest, models: Models, caller: CallerDep) -> ModelsDescriptions:
    weights_key = caller.admit(body.api_key)
    return describe(await models.add(ModelId.normalize(body.model_id), weights_key))


@router.post(
    "/model/remove",
    response_model=ModelsDescriptions,
    summary="Unload a model from every replica",
)
async def model_remove(
    body: RemoveModelRequest, models: Models, caller: CallerDep
) -> ModelsDescriptions:
    caller.admit(body.api_key)
    return describe(await models.remove(ModelId.normalize(body.model_id)))


@router.post("/model/clear", response_model=ModelsDescriptions, summary="Unload every model")
async def model_clear(models: Models, caller: CallerDep) -> ModelsDescriptions:
    caller.admit()
    return describe(await models.clear())


@router.get("/model/registry", response_model=ModelsDescriptions, summary="Loaded models")
async def model_registry(models: Models, caller: CallerDep) -> ModelsDescriptions:
    caller.admit()
    return describe(await models.loaded())


def describe(models: list[RegisteredModel]) -> ModelsDescriptions:
    return ModelsDescriptions(
        models=[
            ModelDescription(
                model_id=m.record.model_id,
                task_type=m.record.task_type,
                batch_size=m.record.batch_size,
                input_height=m.record.input_height,
                input_width=m.record.input_width,
                replicas=[
                    ModelLocation(replica_id=r.replica_id, node_id=r.node_id) for r in m.replicas
                ],
                engines=[_engine(e) for e in m.engines if e is not None],
            )
            for m in models
        ]
    )


def _engine(status: EngineStatus) -> EngineDescription:
    build = status.build
    return EngineDescription(
        live=status.live,
        device=status.device,
        build=None if build is None else BuildDescription(**vars(build)),
        fallback=status.fallback,
    )
