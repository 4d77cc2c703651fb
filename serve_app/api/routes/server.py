"""Server identity and health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from serve_app import __version__
from serve_app.api.model_admin import ModelAdmin, get_model_admin
from serve_app.api.model_schemas import Readiness
from serve_app.api.schemas import ServerInfo

router = APIRouter(tags=["server"])


@router.get("/info", response_model=ServerInfo)
async def info(request: Request) -> ServerInfo:
    return ServerInfo(name="rfserve", version=__version__, uuid=request.app.state.server_id)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "healthy"}


@router.get("/readiness", response_model=Readiness, responses={503: {"model": Readiness}})
async def readiness(models: Annotated[ModelAdmin, Depends(get_model_admin)]) -> JSONResponse:
    """503 until every ``PRELOAD_MODELS`` model has been loaded on a model replica."""
    missing = await models.missing_preloads()
    if missing:
        body = Readiness(status="not ready", missing_models=missing)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Readiness(status="ready").model_dump())
