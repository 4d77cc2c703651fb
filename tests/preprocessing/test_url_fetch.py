"""The URL fetcher against real HTTP(S) servers on loopback: no traffic leaves the host."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from serve_app.app import image_limits
from serve_app.config.settings import ServerSettings
from serve_app.errors import InvalidImageError, UrlNotAllowedError
from serve_app.preprocessing import url_fetch
from serve_app.preprocessing.url_fetch import UrlFetchPolicy, fetch_url

IMAGE = bytes(range(256)) * 4  # 1024 bytes, every byte value, so truncation shows
LOOPBACK = ("127.0.0.0/8", "::1")  # `localhost` may also resolve to ::1
EVERYWHERE = ("0.0.0.0/0", "::/0")
_stop = threading.Event()  # set at teardown so stalled handlers end at once


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route, query = parts.path.strip("/").split("/"), parse_qs(parts.query)
        try:
            if route[0] == "img":
                self._send(200, IMAGE)
            elif route[0] == "host":  # echoes the Host header the fetcher sent
                self._send(200, self.headers["Host"].encode())
            elif route[0] == "redirect":
                self._send(302, Location=query["to"][0])
            elif route[0] == "hops":  # /hops/N: N relative redirects, then the image
                n = int(route[1])
                if n:
                    self._send(302, Location=f"{n - 1}")
                else:
                    self._send(200, IMAGE)
            elif route[0] == "status":
                self._send(int(route[1]), b"nope")
            elif route[0] == "chunked":  # no Content-Length: only streaming can stop it
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for _ in range(int(query["kib"][0])):
                    self.wfile.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif route[0] == "declared":  # huge Content-Length, then silence
                self.send_response(200)
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                self.wfile.flush()
                _stop.wait(30)
            elif route[0] == "slow":  # no answer for a long time
                _stop.wait(30)
                self._send(200, IMAGE)
            elif route[0] == "trickle":  # one byte every 0.1 s: each read is quick
                self.send_response(200)
                self.send_header("Content-Length", "300")
                self.end_headers()
                for _ in range(300):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if _stop.wait(0.1):
                        return
            else:
                self._send(404)
        except OSError:  # the fetcher hung up on purpose
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stalled handlers must not hold up teardown

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # refused TLS handshakes are expected; don't print their tracebacks


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    _stop.set()
    server.shutdown()
    server.server_close()
    _stop.clear()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    yield from _serve(_Server(("127.0.0.1", 0), _Handler))


DEFAULT_POLICY = image_limits(ServerSettings()).url
"""The policy of a server that sets nothing."""


def _fetch(url: str, **policy: object) -> bytes:
    return fetch_url(url, replace(DEFAULT_POLICY, **policy))  # type: ignore[arg-type]


# --- addresses and schemes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allow"),
    [
        ("127.0.0.1", ("127.0.0.0/8",)),
        ("127.0.0.1", ("127.0.0.1",)),  # a bare address is a /32
        ("localhost", LOOPBACK),  # checked on the resolved address, not the name
        ("localhost", ("LOCALHOST",)),  # or allowed by name
        pytest.param(  # IPv4-mapped IPv6 is checked as the IPv4 address it reaches
            "[::ffff:127.0.0.1]",
            ("127.0.0.0/8",),
            marks=pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6"),
        ),
    ],
)
def test_allowed_loopback_returns_exact_bytes(port: int, host: str, allow: tuple[str, ...]) -> None:
    assert _fetch(f"http://{host}:{port}/img", allow=allow) == IMAGE


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:{port}/img", ()),
        ("http://localhost:{port}/img", ()),
        ("http://127.0.0.1:{port}/img", ("10.0.0.0/8", "127.0.0.2", "example.com")),
        pytest.param(
            "http://[::1]:{port}/img",
            (),
            marks=pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6"),
        ),
        ("http://[::ffff:10.1.2.3]/", ()),
        ("http://[::ffff:192.168.0.1]/", ()),
        ("http://[::ffff:127.0.0.1]:{port}/img", ()),  # IPv4-mapped is unwrapped
        ("http://10.1.2.3/", ()),
        ("http://192.168.0.1/", ()),
        ("http://100.64.0.1/", ()),  # carrier-grade NAT
        ("http://[fd12::1]/", ()),
    ],
)
def test_non_public_address_needs_allow(port: int, url: str, allow: tuple[str, ...]) -> None:
    # The refusal names the setting that would allow it.
    with pytest.raises(UrlNotAllowedError, match="RFSERVE_URL_ALLOW_NETWORKS"):
        _fetch(url.format(port=port), allow=allow)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1:70/_x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./computeMetadata/v1/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://169.254.10.10/",
        "http://[fe80::1]/",
        "http://0.0.0.0:{port}/img",  # would reach the loopback server on Linux
        "http://[::]:{port}/img",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://127.0.0.1:{port}@169.254.169.254/",  # credentials trick
        "http://user:pw@127.0.0.1:{port}/img",
    ],
)
def test_always_refused_even_if_allowed(port: int, url: str) -> None:
    with pytest.raises(UrlNotAllowedError):
        _fetch(url.format(port=port), allow=(*EVERYWHERE, "metadata.google.internal"))


def test_connects_to_the_checked_address_not_a_second_lookup(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: later lookups of the name answer an address nothing listens on."""
    real, calls = socket.getaddrinfo, []

    def rebinding(host: object, *args: object, **kwargs: object) -> object:
        if host == "rebind.test":
            calls.append(host)
            host = "127.0.0.1" if len(calls) == 1 else "127.0.0.3"
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    body = _fetch(f"http://rebind.test:{port}/host", allow=("rebind.test",))
    assert body == f"rebind.test:{port}".encode()  # Host header kept for the name
    assert len(calls) == 1


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.0.0.1",  # hexadecimal
        "0x7f000001",
        "127.1",  # the short form inet_aton takes
        "0177.0.0.1",  # octal, which some resolvers read as decimal
        "012.1.2.3",
        "0177.1",
    ],
)
def test_numeric_ipv4_spellings_other_than_dotted_quads_are_refused(port: int, host: str) -> None:
    """Resolvers disagree on what these mean: refused outright, whatever the allow list."""
    with pytest.raises(InvalidImageError):
        _fetch(f"http://{host}:{port}/img", allow=EVERYWHERE)


def test_a_stalled_resolver_is_cut_off_by_the_fetch_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getaddrinfo has no timeout of its own: the fetch's one bounds it."""
    release = threading.Event()

    def stalled(*args: object, **kwargs: object) -> object:
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    started = time.monotonic()
    try:
        with pytest.raises(InvalidImageError, match="timed out"):
            fetch_url("http://slow-dns.test/img", replace(DEFAULT_POLICY, timeout_s=0.5))
        assert time.monotonic() - started < 10, "bounded by the deadline, not the resolver"
    finally:
        release.set()


def test_the_url_guard_takes_the_settings() -> None:
    settings = ServerSettings.model_validate(
        {
            "url_allow_networks": "127.0.0.0/8, images.internal",  # as the env var spells it
            "url_max_bytes": 5,
            "url_timeout_s": 1.5,
            "url_max_redirects": 0,
        }
    )
    assert image_limits(settings).url == UrlFetchPolicy(
        enabled=True,
        allow=("127.0.0.0/8", "images.internal"),
        max_bytes=5,
        timeout_s=1.5,
        max_redirects=0,
    )


# --- redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "allow", "error"),
    [
        ("http://localhost:{port}/img", ("localhost",), None),  # control: the hop is fine
        ("http://127.0.0.2:{port}/img", ("localhost",), UrlNotAllowedError),
        ("http://127.0.0.1:{port}/img", ("localhost",), UrlNotAllowedError),  # name ≠ address
        ("http://169.254.169.254/latest/meta-data/", EVERYWHERE, UrlNotAllowedError),
        ("http://metadata.google.internal/", EVERYWHERE, UrlNotAllowedError),
        ("file:///etc/passwd", EVERYWHERE, UrlNotAllowedError),
        ("http://[not a url", EVERYWHERE, InvalidImageError),
    ],
)
def test_every_redirect_hop_is_checked(
    port: int, target: str, allow: tuple[str, ...], error: type[Exception] | None
) -> None:
    url = f"http://localhost:{port}/redirect?to={quote(target.format(port=port), safe='')}"
    if error is None:
        assert _fetch(url, allow=allow) == IMAGE
    else:
        with pytest.raises(error):
            _fetch(url, allow=allow)


@pytest.mark.parametrize(
    ("hops", "max_redirects", "ok"), [(0, 0, True), (3, 3, True), (1, 0, False), (4, 3, False)]
)
def test_redirect_limit_and_relative_location(
    port: int, hops: int, max_redirects: int, ok: bool
) -> None:
    url = f"http://127.0.0.1:{port}/hops/{hops}"
    if ok:
        assert _fetch(url, allow=LOOPBACK, max_redirects=max_redirects) == IMAGE
    else:
        with pytest.raises(InvalidImageError, match="redirect") as info:
            _fetch(url, allow=LOOPBACK, max_redirects=max_redirects)
        assert not isinstance(info.value, UrlNotAllowedError)


# --- size, time and status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "max_bytes", "expected"),
    [
        ("img", len(IMAGE), IMAGE),
        ("img", len(IMAGE) - 1, None),  # Content-Length over the limit
        ("chunked?kib=4", 4096, b"x" * 4096),
        ("chunked?kib=64", 4096, None),  # no Content-Length: stopped while streaming
        ("declared", 2**20, None),  # refused on the header, without waiting for the body
    ],
)
def test_body_size_limit(port: int, path: str, max_bytes: int, expected: bytes | None) -> None:
    url = f"http://127.0.0.1:{port}/{path}"
    if expected is not None:
        assert _fetch(url, allow=LOOPBACK, max_bytes=max_bytes) == expected
        return
    start = time.monotonic()
    with pytest.raises(InvalidImageError, match=f"larger than {max_bytes} bytes"):
        _fetch(url, allow=LOOPBACK, max_bytes=max_bytes, timeout_s=5.0)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("path", ["slow", "trickle", "redirect?to=/slow"])
def test_one_deadline_for_the_whole_fetch(port: int, path: str) -> None:
    start = time.monotonic()
    with pytest.raises(InvalidImageError, match="timed out"):
        _fetch(f"http://127.0.0.1:{port}/{path}", allow=LOOPBACK, timeout_s=0.5)
    assert time.monotonic() - start < 2.0  # a per-read timeout would let trickle run 30 s


@pytest.mark.parametrize("status", [404, 500, 304])
def test_error_status_is_named_without_the_query(port: int, status: int) -> None:
    with pytest.raises(InvalidImageError, match=str(status)) as info:
        _fetch(f"http://127.0.0.1:{port}/status/{status}?token=secret#frag", allow=LOOPBACK)
    assert not isinstance(info.value, UrlNotAllowedError)
    assert "secret" not in info.value.message
    assert "token" not in info.value.message


def test_refused_connection_is_an_invalid_image() -> None:
    with socket.socket() as sock:  # bound but not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
        with pytest.raises(InvalidImageError, match="could not fetch") as info:
            _fetch(f"http://127.0.0.1:{free}/img?token=secret", allow=LOOPBACK)
    assert "secret" not in info.value.message


# --- https -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """An https server whose certificate names only ``localhost`` (no IP address)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name, public_key=key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for tls_port in _serve(server):
        yield tls_port, cert_file


def test_https_is_pinned_but_verified_for_the_hostname(
    tls: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_port, cert_file = tls
    url = f"https://localhost:{tls_port}/host"
    with pytest.raises(InvalidImageError, match="could not fetch"):  # untrusted by default
        _fetch(url, allow=LOOPBACK)
    monkeypatch.setattr(
        url_fetch, "_ssl_context", lambda: ssl.create_default_context(cafile=cert_file)
    )
    assert _fetch(url, allow=LOOPBACK) == f"localhost:{tls_port}".encode()
    with pytest.raises(InvalidImageError, match="could not fetch"):  # cert names no IP
        _fetch(f"https://127.0.0.1:{tls_port}/host", allow=LOOPBACK)


def test_url_inputs_can_be_switched_off(port: int) -> None:
    with pytest.raises(UrlNotAllowedError, match="ALLOW_URL_INPUT"):
        _fetch(f"http://127.0.0.1:{port}/img", allow=LOOPBACK, enabled=False)
