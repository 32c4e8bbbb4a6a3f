"""The client's transport: no plain HTTP off loopback, TLS verified, proxy and CA env honoured.

Proved by behaviour, not by reading private attributes: a proxy that records what it is asked
to do, and an HTTPS server whose certificate only a CA bundle named in ``SSL_CERT_FILE`` trusts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cleanlist_pipeline.api import CleanlistClient, RetryPolicy
from cleanlist_pipeline.api.errors import CleanlistError, ConfigurationError, TransportError

KEY = "clapi_transport_" + "t" * 40
WHOAMI = {
    "user_email": "u***@example.com",
    "user_id": "u_1",
    "user_name": "Test User",
    "organization_id": "org_1",
    "organization_name": "Org",
    "auth_type": "api_key",
    "scopes": ["*"],
    "tier": "pro",
    "features": [],
}


def _client(base_url: str) -> CleanlistClient:
    return CleanlistClient(KEY, base_url=base_url, retry=RetryPolicy.disabled(), rate_limit=None)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.cleanlist.ai/api/v2",
        "http://10.1.2.3:8080/api/v2",
        "http://example.com:80/api/v1/public",
        "http://127.0.0.1.nip.io/api/v2",
        # *.localhost is only a convention of some resolvers: not a literal loopback name
        # (issue 11, case 10), so it may resolve anywhere.
        "http://sandbox.localhost:8000/api/v2",
        "http://localhost.example.com/api/v2",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _client(url).whoami()
    message = str(info.value)
    assert "http" in message.lower() and KEY not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/api/v2",
        "http://localhost:{port}/api/v2",
        "http://[::1]:{port}/api/v2",
    ],
)
def test_plain_http_on_loopback_is_allowed(url: str, cleanlist_sandbox) -> None:  # type: ignore[no-untyped-def]
    port = cleanlist_sandbox.origin.rsplit(":", 1)[1]
    target = url.format(port=port)
    if "[::1]" in target and not socket.has_ipv6:
        target = target.replace("[::1]", "127.0.0.1")
    with CleanlistClient(
        cleanlist_sandbox.key, base_url=target, rate_limit=None, retry=RetryPolicy.disabled()
    ) as client:
        try:
            assert client.whoami().organization_id
        except TransportError:
            # The sandbox binds 127.0.0.1 only; [::1] may be allowed but unreachable. What
            # matters is that the URL passed the http:// check (no ConfigurationError).
            assert "[::1]" in target


class _RecordingProxy:
    """A TCP listener that records the first request line it gets, then closes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                self.lines.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def test_https_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = _RecordingProxy()
    try:
        for name in (
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(CleanlistError):
            _client("https://api.cleanlist.example/api/v2").whoami()
        assert proxy.lines, "the client ignored HTTPS_PROXY and did not go through the proxy"
        assert proxy.lines[0].startswith("CONNECT api.cleanlist.example:443"), proxy.lines
    finally:
        proxy.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cleanlist-test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "ca.pem"
    key_path = folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _WhoAmI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(WHOAMI).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate; yields (origin, ca file)."""
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WhoAmI)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_and_ssl_cert_file_is_honoured(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, ca_file = https_server
    for name in (
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    # Untrusted certificate: verification is on, so the call fails — because the certificate
    # failed verification (not a refused connection, a timeout, or any other transport error).
    with pytest.raises(TransportError) as info:
        _client(origin + "/api/v2").whoami()
    verify_errors = [e for e in _chain(info.value) if isinstance(e, ssl.SSLCertVerificationError)]
    assert verify_errors, f"no certificate verification failure behind {info.value!r}"
    assert "self-signed certificate" in str(verify_errors[0]) or verify_errors[0].verify_code in (
        18,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        19,  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        20,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    ), verify_errors[0]
    assert info.value.cause_type == "ConnectError"
    # The same server, trusted through the standard environment variable.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with _client(origin + "/api/v2") as client:
        assert client.whoami().organization_id == "org_1"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, else ``__context__``)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
