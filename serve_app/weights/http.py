"""Outbound HTTP of the weight sources: timeouts, bounded retries, redacted URLs.

Roboflow URLs carry the API key in their query, so no URL leaves this module with
its query: errors name the redacted form, and httpx's own request log line (INFO,
full URL) is kept quiet. Failed connections, 5xx answers and short bodies are
retried; a timeout is not (the attempt already waited the whole timeout) and
becomes a 504.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from serve_app.errors import (
    IncompleteDownloadError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from serve_app.weights.download import write_verified
from serve_app.weights.retry import RetryPolicy

T = TypeVar("T")


class _ServerError(Exception):
    """A 5xx answer: retried like a dropped connection."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


_RETRY_ON = (httpx.TransportError, _ServerError, IncompleteDownloadError)


def redact_url(url: str | httpx.URL) -> str:
    """``url`` without query, fragment or credentials: safe for logs and messages."""
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None, userinfo=b""))


class WeightsHttpClient:
    def __init__(self, timeout_s: float, policy: RetryPolicy) -> None:
        self._timeout_s = timeout_s
        self._policy = policy
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=True)
        httpx_logger = logging.getLogger("httpx")
        httpx_logger.setLevel(max(httpx_logger.getEffectiveLevel(), logging.WARNING))

    def get_json(self, url: str, params: dict[str, str], what: str) -> tuple[int, Any]:
        """Status and JSON body (None if not JSON) of ``GET url``; statuses below 500
        are the caller's to interpret."""

        def attempt() -> tuple[int, Any]:
            response = self._client.get(url, params=params)
            if response.status_code >= 500:
                raise _ServerError(response.status_code)
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, None

        return self._retrying(attempt, url, what)

    def download(self, url: str, dest: Path, what: str) -> None:
        """Stream ``url`` into ``dest``, verified against the announced length."""

        def attempt() -> None:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 500:
                    raise _ServerError(response.status_code)
                if response.status_code != 200:
                    raise UpstreamUnavailableError(
                        f"{what}: {redact_url(url)} answered HTTP {response.status_code}"
                    )
                length = response.headers.get("content-length")
                # A compressed body's length is not the length of what we write.
                encoded = response.headers.get("content-encoding", "identity") != "identity"
                expected = int(length) if length is not None and not encoded else None
                try:
                    write_verified(dest, response.iter_bytes(), expected_size=expected)
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    raise IncompleteDownloadError(
                        f"{dest.name}: the body was cut short ({type(exc).__name__})"
                    ) from None

        self._retrying(attempt, url, what)

    def _retrying(self, attempt: Callable[[], T], url: str, what: str) -> T:
        where = redact_url(url)
        tries = self._policy.retries + 1

        def timed_attempt() -> T:
            try:
                return attempt()
            except httpx.TimeoutException:
                raise UpstreamTimeoutError(
                    f"{what}: {where} did not answer within {self._timeout_s:g} s"
                ) from None

        # `from None` everywhere: httpx's messages may hold the full URL, and Ray
        # prints chained exceptions into logs and error replies.
        try:
            return self._policy.run(timed_attempt, retry_on=_RETRY_ON)
        except _ServerError as exc:
            raise UpstreamUnavailableError(
                f"{what}: {where} answered HTTP {exc.status_code} ({tries} attempts)"
            ) from None
        except IncompleteDownloadError as exc:
            raise IncompleteDownloadError(f"{what}: {exc.message} ({tries} attempts)") from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(
                f"{what}: cannot reach {where} ({type(exc).__name__}, {tries} attempts)"
            ) from None
