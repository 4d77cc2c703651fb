"""Server identity and health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from serve_app import __version__
from serve_app.api.pipeline import InferencePipeline, get_pipeline
from serve_app.api.schemas import ServerInfo

router = APIRouter(tags=["server"])


@router.get("/info", response_model=ServerInfo)
async def info(pipeline: Annotated[InferencePipeline, Depends(get_pipeline)]) -> ServerInfo:
    return ServerInfo(name="rfserve", version=__version__, uuid=pipeline.server_id)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "healthy"}


@router.get("/readiness")
async def readiness() -> dict[str, str]:
    return {"status": "ready"}
