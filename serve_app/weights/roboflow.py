"""Model packages from the Roboflow API, fetched as the Roboflow server fetches them.

``GET {API_BASE_URL}/ort/{dataset}/{version}?api_key=&nocache=true&device=&dynamic=true``
answers where the weights and ``environment.json`` are, plus the class names, the task
and model type and, for keypoint models, the keypoint names; both files are
downloaded and the rest is written beside them as Roboflow's server writes its cache
(:mod:`serve_app.weights.package`), so a cached model loads without asking Roboflow
again, here or in Roboflow's server sharing the folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from serve_app.errors import (
    ForbiddenError,
    MissingApiKeyError,
    ModelLoadError,
    UnauthorizedError,
    UpstreamUnavailableError,
)
from serve_app.weights.config import RoboflowConfig
from serve_app.weights.http import WeightsHttpClient
from serve_app.weights.package import (
    CLASS_NAMES_FILE,
    ENVIRONMENT_FILE,
    KEYPOINTS_METADATA_FILE,
    MODEL_TYPE_FILE,
    WEIGHTS_FILE,
    ModelId,
)

# What Roboflow's server assumes when the API names a task but no model type.
DEFAULT_MODEL_TYPES = {
    "object-detection": "yolov5v2s",
    "instance-segmentation": "yolact",
    "classification": "vit",
    "keypoint-detection": "yolov8n",
}


class OrtModel(BaseModel):
    """The ``ort`` object of the Roboflow API's answer."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())

    weights_url: str = Field(alias="model")
    environment_url: str = Field(alias="environment")
    classes: list[str] = Field(default_factory=list)
    task_type: str = Field(alias="type")
    model_type: str | None = Field(None, alias="modelType")
    colors: dict[str, str] | None = None
    keypoints_metadata: list[dict[str, Any]] | None = None


class OrtResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ort: OrtModel


class RoboflowSource:
    name = "roboflow"

    def __init__(self, config: RoboflowConfig) -> None:
        self._api_base_url = config.api_base_url.rstrip("/")
        self._device_id = config.device_id
        self._default_api_key = config.api_key
        self._http = WeightsHttpClient(config.timeout_s, config.retry)

    def where(self, model_id: ModelId) -> str:
        return f"Roboflow ({self._api_base_url})"

    def fetch(self, model_id: ModelId, dest: Path, api_key: str | None) -> bool:
        ort = self._describe(model_id, self._key(model_id, api_key))
        if ort is None:
            return False
        self._http.download(ort.weights_url, dest / WEIGHTS_FILE, f"Weights of model {model_id}")
        self._http.download(
            ort.environment_url, dest / ENVIRONMENT_FILE, f"Environment of model {model_id}"
        )
        if ort.colors:
            _add_colors(dest / ENVIRONMENT_FILE, ort.colors, model_id)
        if ort.classes:
            (dest / CLASS_NAMES_FILE).write_text("".join(f"{name}\n" for name in ort.classes))
        if ort.keypoints_metadata is not None:
            (dest / KEYPOINTS_METADATA_FILE).write_text(json.dumps(ort.keypoints_metadata))
        model_type = ort.model_type or DEFAULT_MODEL_TYPES.get(ort.task_type, "")
        declared = {
            "project_task_type": ort.task_type,
            "model_type": model_type,
            "model_id": str(model_id),
        }
        (dest / MODEL_TYPE_FILE).write_text(json.dumps(declared))
        return True

    def _key(self, model_id: ModelId, api_key: str | None) -> str:
        if api_key:
            return api_key
        if self._default_api_key:
            return self._default_api_key
        raise MissingApiKeyError(
            f"Model {model_id} can only come from Roboflow now, which needs an API key: "
            "send api_key or set ROBOFLOW_API_KEY on the server"
        )

    def _describe(self, model_id: ModelId, api_key: str) -> OrtModel | None:
        """The API's description of the model; None when Roboflow has no such model."""
        url = f"{self._api_base_url}/ort/{model_id.dataset}/{model_id.version}"
        params = {
            "api_key": api_key,
            "nocache": "true",
            "device": self._device_id,
            "dynamic": "true",
        }
        status, body = self._http.get_json(url, params, f"Roboflow lookup of model {model_id}")
        if status == 404:
            return None
        if status == 401:
            raise UnauthorizedError(f"Roboflow refused the API key for model {model_id}")
        if status == 403:
            raise ForbiddenError(f"The API key has no access to model {model_id} on Roboflow")
        if status != 200:
            raise UpstreamUnavailableError(f"Roboflow answered HTTP {status} for model {model_id}")
        try:
            return OrtResponse.model_validate(body).ort
        except ValidationError:
            raise UpstreamUnavailableError(
                f"Roboflow's description of model {model_id} lacks the weights or environment "
                "URL, or the task"
            ) from None


def _add_colors(environment_file: Path, colors: dict[str, str], model_id: ModelId) -> None:
    """Keep the API's class colours in ``environment.json`` unless it has its own."""
    try:
        environment = json.loads(environment_file.read_text())
    except ValueError as exc:
        raise ModelLoadError(f"environment.json of model {model_id} is not JSON") from exc
    environment.setdefault("COLORS", colors)
    environment_file.write_text(json.dumps(environment))
