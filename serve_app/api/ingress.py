"""The HTTP ingress of the split graph: FastAPI through ``serve.ingress``.

Routes live in ``api/routes/``, one router per group; each ingress replica builds its
own FastAPI app around a :class:`RequestDispatcher`, which groups concurrent requests
per model and hands each group to the preprocessing deployment over a handle (which
calls the model deployment itself). The ingress never touches pixels, nor imports the
libraries that do. The fused composition (``serve_app/fused.py``) serves the same app
with the stages in process.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app import __version__
from serve_app.api.body_limit import BodyLimitMiddleware
from serve_app.api.config import IngressConfig
from serve_app.api.dispatch import RequestDispatcher
from serve_app.api.errors import install_error_handlers
from serve_app.api.model_admin import ModelAdmin
from serve_app.api.paths import CollapseSlashes
from serve_app.api.policy import IngressPolicy
from serve_app.api.routes import inference, legacy, page, server
from serve_app.api.routes import models as models_routes
from serve_app.api.routes.legacy import DOCS_ASSETS_SEGMENT
from serve_app.api.schemas import ErrorResponse
from serve_app.core.predictions import RequestResult
from serve_app.core.requests import RequestGroup
from serve_app.core.stages import RemoteModelStage
from serve_app.observability.request_log import RequestLogMiddleware

ERROR_STATUSES = (400, 401, 403, 404, 413, 415, 422, 500, 503, 504, 507)


def create_app(dispatcher: RequestDispatcher, models: ModelAdmin, policy: IngressPolicy) -> FastAPI:
    # FastAPIOffline serves /docs and /redoc with Swagger UI and ReDoc from the package:
    # the pages work on machines that cannot reach a CDN.
    app = FastAPIOffline(
        title="rfserve",
        version=__version__,
        description="Roboflow-compatible computer-vision inference on Ray Serve.",
        responses={code: {"model": ErrorResponse} for code in ERROR_STATUSES},
        static_url=f"/{DOCS_ASSETS_SEGMENT}",
    )
    app.state.dispatcher = dispatcher
    app.state.models = models
    app.state.policy = policy
    app.state.server_id = str(uuid.uuid4())
    app.add_middleware(BodyLimitMiddleware, max_bytes=policy.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    install_error_handlers(app)
    app.add_middleware(CollapseSlashes)
    for module in (inference, server, models_routes, page):
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
        config: IngressConfig,
        *,
        preprocessor: DeploymentHandle,
        model: DeploymentHandle,
        registry: DeploymentHandle,
    ) -> None:
        self._preprocessor = preprocessor
        self._dispatcher = RequestDispatcher(self._run_group, config.grouping)
        self._models = ModelAdmin(RemoteModelStage(model), registry)
        self._policy = config.policy

    async def _run_group(self, group: RequestGroup) -> list[RequestResult | BaseException]:
        results: list[RequestResult | BaseException] = await self._preprocessor.run.remote(group)
        return results

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._dispatcher, self._models, self._policy)

    def stats(self) -> dict[str, object]:
        return {"dispatched": self._dispatcher.stats()}
