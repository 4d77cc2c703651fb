"""The HTTP ingress of the split graph: FastAPI through ``serve.ingress``.

Routes live in ``api/routes/``, one router per group; each ingress replica builds its
own FastAPI app around a :class:`RequestDispatcher`, which groups concurrent requests
per model and hands each group to the preprocessing deployment over a handle (which
calls the model deployment itself). The ingress never touches pixels, nor imports the
libraries that do. The fused composition (``api/fused_ingress.py``) serves the same
app with the stages in process.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app import __version__
from serve_app.api.dispatch import RequestDispatcher
from serve_app.api.errors import install_error_handlers
from serve_app.api.model_manager import ModelManager
from serve_app.api.paths import CollapseSlashes
from serve_app.api.routes import inference, legacy, server
from serve_app.api.routes import models as models_routes
from serve_app.api.schemas import ErrorResponse
from serve_app.config import GroupingConfig
from serve_app.core.predictions import RequestResult
from serve_app.core.requests import RequestGroup
from serve_app.replica.client import ModelReplicaClient


def create_app(dispatcher: RequestDispatcher, models: ModelManager) -> FastAPI:
    app = FastAPI(
        title="rfserve",
        version=__version__,
        description="Roboflow-compatible computer-vision inference on Ray Serve.",
        responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 422, 500, 503)},
    )
    app.state.dispatcher = dispatcher
    app.state.models = models
    app.state.server_id = str(uuid.uuid4())
    install_error_handlers(app)
    app.add_middleware(CollapseSlashes)
    for module in (inference, server, models_routes):
        app.include_router(module.router)
    # Last: it catches every two-segment path the routers above do not serve.
    app.include_router(legacy.router)
    return app


@serve.deployment
@serve.ingress()
class Ingress:
    """The split graph's ingress: groups go to the preprocessing deployment."""

    def __init__(
        self,
        preprocessor: DeploymentHandle,
        model: DeploymentHandle,
        registry: DeploymentHandle,
        grouping: GroupingConfig,
    ) -> None:
        self._preprocessor = preprocessor
        self._dispatcher = RequestDispatcher(self._run_group, grouping)
        self._models = ModelManager(ModelReplicaClient(model), registry)

    async def _run_group(self, group: RequestGroup) -> list[RequestResult | BaseException]:
        results: list[RequestResult | BaseException] = await self._preprocessor.run.remote(group)
        return results

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._dispatcher, self._models)

    def stats(self) -> dict[str, object]:
        return {"dispatched": self._dispatcher.stats()}
