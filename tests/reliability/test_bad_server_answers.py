"""A server that misbehaves: repeating or malformed cursors, answers missing required fields or
with wrong types, and an expired quote. The client must stop with an error naming the field or
the cursor — never loop forever, never hand out half-parsed data.

The sandbox does not misbehave, so a tiny local fake server (loopback HTTP) plays the broken
API; the expired quote uses the sandbox's clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any

import pytest

from cleanlist_pipeline.api import CleanlistClient, RetryPolicy
from cleanlist_pipeline.api.errors import (
    APIError,
    PaginationError,
    ResponseShapeError,
)
from cleanlist_pipeline.testing import SandboxHandle

_DROP = object()
LEAD = {
    "lead_id": "lead_1",
    "first_name": "A",
    "last_name": "B",
    "email": None,
    "phone": None,
    "title": None,
    "company": None,
    "enrichment_status": "none",
}


def _detail(ident: str, **over: Any) -> dict[str, Any]:
    body = {
        "list_id": ident,
        "name": "n",
        "description": None,
        "lead_count": 1,
        "enriched_count": 0,
        "folder_id": None,
        "created_at": "2026-01-01T00:00:00Z",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not _DROP}


ROUTES: dict[str, Any] = {
    # cursor that never changes: a client following it would loop forever
    "/api/v2/lead-lists/L_REPEAT/leads": {
        "list_id": "L_REPEAT",
        "leads": [LEAD],
        "total": 10_000,
        "cursor": "c1",
    },
    # cursor of the wrong type
    "/api/v2/lead-lists/L_BADCURSOR/leads": {
        "list_id": "L_BADCURSOR",
        "leads": [LEAD],
        "total": 2,
        "cursor": {"offset": 1},
    },
    "/api/v2/lead-lists/L_NOLEADS/leads": {"list_id": "L_NOLEADS", "total": 1, "cursor": None},
    "/api/v2/lead-lists/L_MISSING": _detail("L_MISSING", list_id=_DROP),
    "/api/v2/lead-lists/L_BADTYPE": _detail("L_BADTYPE", lead_count="many"),
    "/api/v2/lead-lists/L_NOTJSON": "<html>gateway</html>",
    "/api/v2/lead-lists/L_LIST_BODY": [1, 2, 3],
}


class _Broken(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path.endswith("/csv-import"):
            body: Any = {
                "list_id": "L_ANY",
                "rows_parsed": 1,
                "rows_skipped": 0,
                "skip_reasons": {},
                "sample_skip_rows": [],
                "workflow_id": None,
            }
            # rows_imported is missing
            status = 201
        elif path in ROUTES:
            body, status = ROUTES[path], 200
        else:
            body, status = (
                {
                    "error": {
                        "code": "not_found",
                        "problem": "no",
                        "retryable": False,
                        "docs_url": "",
                        "request_id": "req_1",
                    }
                },
                404,
            )
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/html" if isinstance(body, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_api() -> Iterator[CleanlistClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/v2"
    client = CleanlistClient(
        "clapi_fake_" + "f" * 40, base_url=base, retry=RetryPolicy.disabled(), rate_limit=None
    )
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_repeating_cursor_stops_with_a_pagination_error(broken_api: CleanlistClient) -> None:
    with pytest.raises(PaginationError) as info:
        # islice bounds the test if the client loops: it must raise long before 50 pages.
        list(islice(broken_api.iter_leads("L_REPEAT"), 50))
    assert "cursor" in str(info.value).lower()


def test_malformed_cursor_is_a_shape_error_naming_the_cursor(broken_api: CleanlistClient) -> None:
    with pytest.raises((ResponseShapeError, PaginationError)) as info:
        list(islice(broken_api.iter_leads("L_BADCURSOR"), 50))
    assert "cursor" in str(info.value).lower()


def test_page_without_leads_names_the_missing_field(broken_api: CleanlistClient) -> None:
    with pytest.raises(ResponseShapeError) as info:
        list(broken_api.iter_leads("L_NOLEADS"))
    assert "leads" in str(info.value)


@pytest.mark.parametrize(
    ("list_id", "field"), [("L_MISSING", "list_id"), ("L_BADTYPE", "lead_count")]
)
def test_answer_missing_a_field_or_with_a_wrong_type_names_it(
    broken_api: CleanlistClient, list_id: str, field: str
) -> None:
    with pytest.raises(ResponseShapeError) as info:
        broken_api.get_list(list_id)
    assert field in str(info.value)


@pytest.mark.parametrize("list_id", ["L_NOTJSON", "L_LIST_BODY"])
def test_answer_that_is_not_a_json_object_is_a_shape_error(
    broken_api: CleanlistClient, list_id: str
) -> None:
    with pytest.raises(ResponseShapeError):
        broken_api.get_list(list_id)


def test_csv_import_answer_missing_counts_is_a_shape_error(broken_api: CleanlistClient) -> None:
    with pytest.raises(ResponseShapeError) as info:
        broken_api.csv_import(
            "L_ANY",
            b"email\nx@example.com\n",
            {"email": "email"},
            idempotency_key="clp-imp-test",
            dispatch_enrichment=False,
        )
    assert "rows_imported" in str(info.value)


def test_expired_quote_is_refused_with_what_to_do(cleanlist_sandbox: SandboxHandle) -> None:
    list_id = cleanlist_sandbox.seed_list("quote proof", 20)
    with CleanlistClient(
        cleanlist_sandbox.key, base_url=cleanlist_sandbox.v2, rate_limit=None
    ) as client:
        quote = client.estimate_cost("enrich_list", list_id=list_id, scope="partial")
        cleanlist_sandbox.advance_clock(3600)
        balance_before = client.credits_balance().credits
        with pytest.raises(APIError) as info:
            client.enrich_list(list_id, "partial", quote.quote_id)
        assert client.credits_balance().credits == balance_before
    error = info.value
    assert error.status == 400 and error.code == "quote_expired"
    assert error.fix and "estimate" in error.fix.lower()
    assert not error.retryable
