"""Server-side fetch of an image given by URL, guarded against SSRF.

Every hop (the first URL and each redirect) is parsed, its host resolved, and every
resolved address checked before any connection is made. The connection then goes to one
of those checked addresses and never resolves the name again (a custom ``httpcore``
network backend ignores the host it is asked for), so DNS rebinding between check and
connect cannot send it elsewhere. The request keeps the original ``Host`` header and,
for https, the TLS handshake uses the original hostname for SNI and certificate
verification: pinning holds for http and https alike.

The name is resolved within the same deadline as the rest of the fetch (the resolver
itself has no timeout).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from serve_app.errors import InvalidImageError, UrlNotAllowedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Refused whatever `allow` says: no image fetch has a reason to reach these.
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects these to the local host
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# One to four numbers (decimal, or hex with 0x) separated by dots: an IPv4 address in
# one of the forms inet_aton also takes, not a name (no top-level domain is numeric).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")
_HEADERS = ((b"Accept-Encoding", b"identity"), (b"User-Agent", b"serve-app"))


@dataclass(frozen=True)
class UrlFetchPolicy:
    """Whether and how far the server fetches image URLs (defaults: the settings')."""

    enabled: bool
    allow: tuple[str, ...]
    """Host names or CIDR networks reachable although not global (private, loopback)."""
    max_bytes: int
    timeout_s: float
    """One budget for the whole fetch, redirects included."""
    max_redirects: int


def fetch_url(url: str, policy: UrlFetchPolicy) -> bytes:
    """GET ``url`` under ``policy`` and return the body.

    Raises ``UrlNotAllowedError`` for a refused scheme, host or address (on any hop) and
    ``InvalidImageError`` for every other failure. Messages never carry the query string.
    """
    if not policy.enabled:
        raise UrlNotAllowedError("This server does not fetch images by URL (ALLOW_URL_INPUT)")
    deadline = time.monotonic() + policy.timeout_s
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidImageError("image URL is not a valid URL") from exc
    for _hop in range(policy.max_redirects + 1):
        where = _redact(current)
        backend = _PinnedBackend(_check_url(current, policy, deadline), deadline)
        target = httpcore.URL(
            scheme=current.raw_scheme, host=current.raw_host, port=current.port,
            target=current.raw_path,
        )  # fmt: skip
        headers = [(b"Host", current.netloc), *_HEADERS]  # netloc brackets IPv6 hosts
        try:
            with (
                httpcore.ConnectionPool(
                    ssl_context=_ssl_context(), network_backend=backend
                ) as pool,
                pool.stream("GET", target, headers=headers) as response,
            ):
                location = _header(response, b"location")
                if response.status in _REDIRECTS and location is not None:
                    current = current.join(location)  # relative Location resolves here
                    continue  # never followed by the client: the next hop is re-checked
                if not 200 <= response.status < 300:
                    raise InvalidImageError(f"image URL {where} answered HTTP {response.status}")
                return _read_body(response, policy.max_bytes, where)
        except httpcore.TimeoutException as exc:
            raise InvalidImageError(f"fetching image URL {where} timed out") from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as e:
            raise InvalidImageError(f"could not fetch image URL {where}: {type(e).__name__}") from e
        except httpx.InvalidURL as exc:
            raise InvalidImageError(f"image URL {where} redirected to an invalid URL") from exc
    raise InvalidImageError(f"image URL redirected more than {policy.max_redirects} times")


def _check_url(url: httpx.URL, policy: UrlFetchPolicy, deadline: float) -> list[str]:
    """Check one hop; return its resolved addresses, all of which passed."""
    where = _redact(url)
    if url.scheme not in ("http", "https"):
        raise UrlNotAllowedError(f"image URL scheme {url.scheme!r} is not allowed")
    if url.userinfo:  # refused outright rather than parsed around ("a@b", "a\\@b")
        raise UrlNotAllowedError("image URLs must not carry credentials")
    host = url.host.lower().rstrip(".")
    if not host:
        raise UrlNotAllowedError("image URL has no host")
    if host in _METADATA_HOSTS:
        raise UrlNotAllowedError(f"image URL {where} points at a metadata service")
    if _NUMERIC_HOST.match(host) and not _is_dotted_quad(host):
        # "2130706433", "0x7f.1", "0177.0.0.1": resolvers disagree on what these mean.
        raise UrlNotAllowedError(f"image URL {where} spells an IPv4 address ambiguously")
    try:
        infos = _resolve(url.raw_host.decode("ascii"), deadline)
    except TimeoutError:
        raise InvalidImageError(f"resolving the host of image URL {where} timed out") from None
    except (OSError, UnicodeError) as exc:
        raise InvalidImageError(f"could not resolve host of image URL {where}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise InvalidImageError(f"could not resolve host of image URL {where}")
    names, nets = _parse_allow(policy.allow)
    for address in addresses:  # every one: a single bad answer refuses the whole host
        ip = _unwrap(ipaddress.ip_address(address))
        if _forbidden(ip):
            raise UrlNotAllowedError(f"image URL {where} resolves to a forbidden address")
        if not _public(ip) and host not in names and not any(ip in n for n in nets):
            raise UrlNotAllowedError(
                f"image URL {where} resolves to a non-public address ({ip}); the server "
                "fetches from it only if RFSERVE_URL_ALLOW_NETWORKS lists its host or network"
            )
    return addresses


def _is_dotted_quad(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, deadline: float) -> list[Any]:
    """``getaddrinfo(host)`` within the fetch's deadline. The resolver has no timeout of
    its own, so it runs on a daemon thread that is abandoned if it stalls."""
    answer: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.extend(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="url-dns", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError
    if failure:
        raise failure[0]
    return answer


@functools.lru_cache(maxsize=32)
def _parse_allow(allow: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Split ``allow`` into host names and networks (a bare address is a /32 or /128)."""
    names, nets = set(), []
    for entry in (e.strip() for e in allow if e.strip()):
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(nets)


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped or NAT64 IPv6 address really reaches."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _forbidden(ip: IPAddress) -> bool:
    """Addresses refused even when ``allow`` covers them."""
    return (
        ip in _METADATA_IPS
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or (ip.is_reserved and not ip.is_loopback)  # ::1 lies inside the reserved ::/8
        or (ip.version == 4 and ip in _THIS_NETWORK)
    )


def _public(ip: IPAddress) -> bool:
    # is_global excludes loopback, RFC1918, fc00::/7 and 100.64.0.0/10 (CGNAT).
    return ip.is_global and not (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)


def _redact(url: httpx.URL) -> str:
    """URL for messages: no credentials, query or fragment, which may carry tokens."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{f':{url.port}' if url.port else ''}{url.path}"


def _remaining(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the fetch deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Gives every socket operation at most the time left to the whole fetch, so a
    server that trickles bytes cannot stretch the fetch one read timeout at a time."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(
            max_bytes, _remaining(self._deadline, timeout, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:  # fmt: skip
        left = _remaining(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses already checked, whatever host httpcore asks for."""

    def __init__(self, addresses: list[str], deadline: float) -> None:
        self._addresses, self._deadline = addresses, deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Any = None,
    ) -> httpcore.NetworkStream:  # fmt: skip
        error: Exception = httpcore.ConnectError("no address to connect to")
        for address in self._addresses:  # `host` ignored: connecting by name re-resolves
            left = _remaining(self._deadline, timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _read_body(response: httpcore.Response, max_bytes: int, where: str) -> bytes:
    too_large = InvalidImageError(f"image at {where} is larger than {max_bytes} bytes")
    length = _header(response, b"content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise too_large  # refused before a byte of the body is read
    body = bytearray()
    for chunk in response.iter_stream():
        body += chunk
        if len(body) > max_bytes:  # chunked or lying bodies stop here
            raise too_large
    return bytes(body)
