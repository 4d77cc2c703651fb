"""One error hierarchy for every stage; the ingress maps each class to its HTTP status.

Errors cross Ray deployment boundaries, so each keeps its state in ``args`` and
pickles cleanly. Messages are shown to clients: never put a secret in one.
"""

from __future__ import annotations


class ServeAppError(Exception):
    """Base class: a request failed for a reason the client should be told."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidRequestError(ServeAppError):
    """The request is well-formed JSON but asks for something impossible."""

    status_code = 400


class InvalidImageError(InvalidRequestError):
    """The image payload cannot be decoded or is not an image we accept."""


class UrlNotAllowedError(InvalidImageError):
    """An image URL points somewhere the server refuses to fetch from."""


class PayloadTooLargeError(ServeAppError):
    """The request is larger than the server's limits allow (body, images, pixels)."""

    status_code = 413


class ModelNotFoundError(ServeAppError):
    status_code = 404


class UnauthorizedError(ServeAppError):
    status_code = 401


class MissingApiKeyError(UnauthorizedError):
    """Only a source that needs an API key is left to ask, and the request has none."""


class ForbiddenError(ServeAppError):
    status_code = 403


class ModelLoadError(ServeAppError):
    """The model files exist but cannot be used (corrupt, wrong layout)."""

    status_code = 500


class UpstreamUnavailableError(ServeAppError):
    """A weight source could not be reached."""

    status_code = 503


class StoreAccessDeniedError(UpstreamUnavailableError):
    """A store refused these credentials for this call (read-only keys, say)."""


class IncompleteDownloadError(UpstreamUnavailableError):
    """A download ended short of, or differs from, what the source announced."""


class UpstreamTimeoutError(ServeAppError):
    status_code = 504


class InsufficientStorageError(ServeAppError):
    """The model cache's disk is full: nothing half-written is kept."""

    status_code = 507


class OverloadedError(ServeAppError):
    """A stage's queue is full; the client should retry after ``retry_after_s``."""

    status_code = 503

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.args = (message, retry_after_s)

    @property
    def retry_after_s(self) -> float:
        return float(self.args[1])
