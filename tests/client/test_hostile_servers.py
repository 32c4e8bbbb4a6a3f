"""A broken or hostile server cannot make the client hold gigabytes, crash, or page forever.

Every test talks to a real HTTP server on 127.0.0.1 (``http.server`` in a thread) that answers
what a hostile API would: an endless or oversized body, JSON nested past any decoder's depth,
bytes that are not UTF-8, a top-level array, cursors that never run out. The client must raise
``ResponseShapeError`` / ``PaginationError`` — the classes the pipeline's error handling knows —
with the status and route and none of the body, within seconds (issue 11, cases 14 and 15).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from cleanlist_pipeline.api import (
    CleanlistClient,
    PaginationError,
    ResponseShapeError,
    RetryPolicy,
    ServerError,
)
from cleanlist_pipeline.api.pagination import EXTRA_PAGES, MAX_EMPTY_PAGES_IN_ROW
from cleanlist_pipeline.api.transport import MAX_RESPONSE_BYTES

KEY = "clapi_hostile_" + "h" * 40
#: Personal data a hostile body carries: no error message may repeat it.
CANARY = "canary.person@example.com"
LIST = {"list_id": "l1", "name": "Q3", "lead_count": 3, "enriched_count": 0}

Answer = Callable[[BaseHTTPRequestHandler, dict[str, str]], None]


@dataclass
class HostileServer:
    """A loopback HTTP server whose every GET is answered by ``answer(handler, query)``."""

    answer: Answer | None = None
    requests: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    origin: str = ""

    @property
    def v2(self) -> str:
        return f"{self.origin}/api/v2"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    state = HostileServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests.append(self.path)
            query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            assert state.answer is not None
            # The client hanging up mid-answer is what some tests check, not a server error.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                state.answer(self, query)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _client(server: HostileServer, **kw: object) -> CleanlistClient:
    return CleanlistClient(
        KEY, server.v2, retry=RetryPolicy.disabled(), rate_limit=None, timeout=20.0, **kw
    )


def _send(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _assert_clean(message: str) -> None:
    assert CANARY not in message and KEY not in message, message


# --- case 14: body size --------------------------------------------------------------------


def test_endless_chunked_body_is_cut_at_the_cap(server: HostileServer) -> None:
    """No Content-Length, bytes forever: reading stops just past MAX_RESPONSE_BYTES."""
    block = (b'{"x": "' + CANARY.encode() + b'"}').ljust(64 * 1024, b" ")

    def answer(handler: BaseHTTPRequestHandler, _query: dict[str, str]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        while server.bytes_sent < 20 * MAX_RESPONSE_BYTES:  # far past the cap: never reached
            handler.wfile.write(chunk)
            server.bytes_sent += len(block)

    server.answer = answer
    started = time.monotonic()
    with _client(server) as client, pytest.raises(ResponseShapeError) as info:
        client.get_list("l1")
    assert time.monotonic() - started < 15
    message = str(info.value)
    assert "GET /api/v2/lead-lists/l1 answered 200" in message
    assert f"over {MAX_RESPONSE_BYTES} bytes" in message
    _assert_clean(message)
    # The client hung up soon after the cap, instead of reading what the server kept sending.
    time.sleep(0.2)
    assert server.bytes_sent < 4 * MAX_RESPONSE_BYTES


def test_declared_oversized_body_is_refused_unread(server: HostileServer) -> None:
    """A Content-Length past the cap is refused before a byte of the body is awaited."""

    def answer(handler: BaseHTTPRequestHandler, _query: dict[str, str]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(10 * 1024**3))  # 10 GiB promised
        handler.end_headers()
        handler.wfile.write(b'{"list_id": "')
        handler.wfile.flush()
        time.sleep(30)  # ...and never delivered: a client that waited would time out

    server.answer = answer
    started = time.monotonic()
    with _client(server) as client, pytest.raises(ResponseShapeError, match="over 33554432 bytes"):
        client.get_list("l1")
    assert time.monotonic() - started < 5


def test_body_just_under_the_cap_is_read(server: HostileServer) -> None:
    """The cap is a ceiling, not a tight fit: a big but legal answer still decodes."""
    padding = "p" * (MAX_RESPONSE_BYTES - 1024)
    body = json.dumps({**LIST, "padding": padding}).encode()
    server.answer = lambda handler, _q: _send(handler, body)
    with _client(server) as client:
        assert client.get_list("l1").lead_count == 3


# --- case 14: decoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # Deeper than orjson's 1024 levels and json's recursion limit: RecursionError before.
        (b'{"n": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested too deeply"),
        (b'{"list_id": "l1", "name": "\xff\xfe ' + CANARY.encode() + b'"}', "not JSON"),
        (b'{"list_id": "l1", "name": "' + CANARY.encode() + b'"', "not JSON"),
        (json.dumps([LIST, {"email": CANARY}]).encode(), "JSON list where an object"),
        (json.dumps(CANARY).encode(), "JSON str where an object"),
        (b"null", "JSON NoneType where an object"),
    ],
    ids=["deep-nesting", "bad-utf8", "truncated", "top-level-array", "top-level-string", "null"],
)
def test_undecodable_answers_are_shape_errors(server: HostileServer, body: bytes, why: str) -> None:
    server.answer = lambda handler, _q: _send(handler, body)
    with _client(server) as client, pytest.raises(ResponseShapeError) as info:
        client.get_list("l1")
    message = str(info.value)
    assert message.startswith("GET /api/v2/lead-lists/l1 answered 200 with a")
    assert why in message
    _assert_clean(message)
    # No decoder exception travels along as the cause (its text could quote the body).
    assert info.value.__cause__ is None


def test_deeply_nested_error_body_still_gives_the_api_error(server: HostileServer) -> None:
    """A 5xx whose body no decoder takes is still the API's error, not a RecursionError."""
    body = b"[" * 200_000 + b"]" * 200_000
    server.answer = lambda handler, _q: _send(handler, body, status=500)
    with _client(server) as client, pytest.raises(ServerError) as info:
        client.get_list("l1")
    assert info.value.status == 500


# --- case 15: pagination that never ends ---------------------------------------------------


def _page(leads: list[dict[str, str]], total: int, cursor: str | None) -> bytes:
    return json.dumps({"list_id": "l1", "leads": leads, "total": total, "cursor": cursor}).encode()


def test_fresh_cursors_forever_stop_past_what_total_allows(server: HostileServer) -> None:
    """Full pages, a new cursor every time, ``total`` 250: 3 pages expected, not 3 million."""

    def answer(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        n = int(query.get("cursor", "0"))
        leads = [{"lead_id": f"ld_{n}_{i}"} for i in range(100)]
        _send(handler, _page(leads, 250, str(n + 1)))

    server.answer = answer
    with _client(server) as client, pytest.raises(PaginationError) as info:
        for _ in client.iter_leads("l1", page_size=100):
            pass
    assert "total of 250" in str(info.value)
    assert len(server.requests) == 3 + EXTRA_PAGES


def test_empty_pages_with_cursors_stop_after_a_few(server: HostileServer) -> None:
    """Empty pages whose ``total`` claims millions still end after a few in a row."""

    def answer(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        n = int(query.get("cursor", "0"))
        leads = [{"lead_id": "ld_first"}] if n == 0 else []
        _send(handler, _page(leads, 10_000_000, str(n + 1)))

    server.answer = answer
    with _client(server) as client, pytest.raises(PaginationError, match="empty pages in a row"):
        for _ in client.iter_leads("l1", page_size=100):
            pass
    assert len(server.requests) == 1 + MAX_EMPTY_PAGES_IN_ROW + 1


def test_a_list_growing_while_paged_is_read_to_its_end(server: HostileServer) -> None:
    """The bound follows the largest ``total`` seen: leads added mid-paging are not cut off."""

    def answer(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        n = int(query.get("cursor", "0"))
        total = 200 + 200 * n  # grows by two pages with every page read, until page 10
        last = n == 10
        leads = [{"lead_id": f"ld_{n}_{i}"} for i in range(100)]
        _send(handler, _page(leads, total, None if last else str(n + 1)))

    server.answer = answer
    with _client(server) as client:
        assert len(list(client.iter_leads("l1", page_size=100))) == 1100


def test_one_empty_last_page_with_a_cursor_is_tolerated(server: HostileServer) -> None:
    def answer(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        n = int(query.get("cursor", "0"))
        if n == 0:
            _send(handler, _page([{"lead_id": "a"}, {"lead_id": "b"}], 2, "1"))
        elif n == 1:
            _send(handler, _page([], 2, "2"))  # empty, yet a cursor
        else:
            _send(handler, _page([], 2, None))

    server.answer = answer
    with _client(server) as client:
        assert [lead.lead_id for lead in client.iter_leads("l1", page_size=100)] == ["a", "b"]
