"""The HTTP ingress deployment: FastAPI through ``serve.ingress``.

Routes live in ``api/routes/``, one router per group. Each ingress replica builds its
own FastAPI app around its :class:`InferencePipeline`, so routes reach the other
deployments through a plain dependency. The ingress never touches pixels: decoding
and resizing happen in the preprocessing deployment.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app import __version__
from serve_app.api.errors import install_error_handlers
from serve_app.api.model_manager import ModelManager
from serve_app.api.pipeline import InferencePipeline
from serve_app.api.routes import inference, legacy, server
from serve_app.api.routes import models as models_routes
from serve_app.api.schemas import ErrorResponse


def create_app(pipeline: InferencePipeline, models: ModelManager) -> FastAPI:
    app = FastAPI(
        title="rfserve",
        version=__version__,
        description="Roboflow-compatible computer-vision inference on Ray Serve.",
        responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 422, 500, 503)},
    )
    app.state.pipeline = pipeline
    app.state.models = models
    install_error_handlers(app)
    for module in (inference, server, models_routes):
        app.include_router(module.router)
    # Last: it catches every two-segment path the routers above do not serve.
    app.include_router(legacy.router)
    return app


@serve.deployment
@serve.ingress()
class Ingress:
    def __init__(
        self, preprocessor: DeploymentHandle, model: DeploymentHandle, registry: DeploymentHandle
    ) -> None:
        self._pipeline = InferencePipeline(preprocessor, model, server_id=str(uuid.uuid4()))
        self._models = ModelManager(model, registry)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._pipeline, self._models)
