"""Who is calling: the API key a request presents, in the Roboflow server's order (the
``api_key`` query parameter, an ``Authorization: Bearer`` header, the JSON body's
``api_key``), checked against the ingress policy before any work is done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from serve_app.api.policy import IngressPolicy
from serve_app.core.ids import ModelId
from serve_app.observability.request_log import note_request, request_id


async def request_api_key(request: Request) -> str | None:
    """The key in the query string or the bearer token: either wins over the body's."""
    if key := request.query_params.get("api_key"):
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


@dataclass(frozen=True)
class Admitted:
    """A request the policy let through."""

    model_id: str
    """Normalised (``"/a/1/"`` → ``"a/1"``)."""
    request_id: str
    weights_key: str | None = field(repr=False)
    """The key weights may be fetched with (None: the server's own)."""


@dataclass(frozen=True)
class Caller:
    request: Request
    policy: IngressPolicy
    key: str | None = field(repr=False)
    """The query or bearer key; routes add the body's."""

    def admit(self, body_key: str | None = None) -> str | None:
        """Let the caller in or raise 401; returns the key weights may be fetched with."""
        return self.policy.weights_key(self.key or body_key)

    def admit_inference(self, model_id: str, images: int, body_key: str | None) -> Admitted:
        """:meth:`admit`, then the request's size, and what its log line will say."""
        weights_key = self.admit(body_key)
        self.policy.check_images(images)
        normalized = ModelId.normalize(model_id)
        note_request(self.request, normalized, images)
        return Admitted(normalized, request_id(self.request), weights_key)


async def get_caller(request: Request) -> Caller:
    """FastAPI dependency (a coroutine: FastAPI would run a function on a thread)."""
    policy: IngressPolicy = request.app.state.policy
    return Caller(request, policy, await request_api_key(request))


CallerDep = Annotated[Caller, Depends(get_caller)]
