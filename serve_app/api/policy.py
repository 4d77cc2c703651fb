"""What the ingress enforces before any work is done: who may call, and how much one
request may ask for."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from serve_app.errors import PayloadTooLargeError, UnauthorizedError


@dataclass(frozen=True)
class IngressPolicy:
    max_body_bytes: int
    max_images_per_request: int
    accepted_keys: tuple[str, ...] = field(repr=False)
    """Client keys the server accepts; none leaves it open (the local default)."""

    @property
    def access_control(self) -> bool:
        return bool(self.accepted_keys)

    def weights_key(self, presented: str | None) -> str | None:
        """Admit the client by ``presented`` and return the key weights may be fetched
        with: the client's own on an open server; with access control, none, so the
        sources use the server's ``ROBOFLOW_API_KEY`` and a client's key only opens
        the door."""
        if not self.access_control:
            return presented
        if not presented:
            raise UnauthorizedError(
                "This server needs an API key: send api_key or an Authorization: Bearer header"
            )
        # Every key compared in constant time: timing says nothing about how close a guess was.
        if not any([hmac.compare_digest(presented, key) for key in self.accepted_keys]):
            raise UnauthorizedError("This server does not accept that API key")
        return None

    def check_images(self, count: int) -> None:
        if count > self.max_images_per_request:
            raise PayloadTooLargeError(
                f"The request carries {count} images; this server takes at most "
                f"{self.max_images_per_request} per request (RFSERVE_MAX_IMAGES_PER_REQUEST)"
            )
