"""The preprocessing deployment: CPU-bound decoding and resizing, scaled on its own.

It takes a whole group of requests for one model from the ingress, hands the group's
images to the model deployment as one batch itself (so network-size pixels never pass
back through the ingress), and answers the group's results.
"""

from __future__ import annotations

from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.core.predictions import RequestResult
from serve_app.core.requests import RequestGroup
from serve_app.core.stages import RemoteModelStage
from serve_app.errors import ServeAppError
from serve_app.preprocessing.config import PreprocessConfig
from serve_app.preprocessing.stage import PreprocessStage


@serve.deployment
class Preprocessor:
    def __init__(self, config: PreprocessConfig, *, model: DeploymentHandle) -> None:
        self._stage = PreprocessStage(config)
        self._model = RemoteModelStage(model)

    async def run(self, group: RequestGroup) -> list[RequestResult | BaseException]:
        try:
            return await self._stage.run_group(group, self._model)
        except ServeAppError as exc:
            # Answered, not raised: Serve would log a client's mistake with a traceback.
            return [exc] * len(group.requests)

    def stats(self) -> dict[str, object]:
        return self._stage.stats()
