"""A 401/403 or an exhausted budget in one run of a backfill stops its remaining partitions."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from .conftest import HEADER, Pipeline, failure_message, lead_rows, make_resource


def test_insufficient_scope_stops_the_rest_of_the_backfill(pipeline: Pipeline) -> None:
    p = pipeline
    for i in range(3):
        (p.drops / f"d{i}.csv").write_text(HEADER + lead_rows(5, start=i * 10))
    read_only = make_resource(p.settings, p.sandbox.add_key(scopes=["lists:read"]))
    tags = {"dagster/backfill": "bf-scope"}

    first = p.run("d0.csv", tags=tags, resource=read_only)
    assert not first.success
    assert "403" in failure_message(first)

    requests = sum(p.sandbox.ledger()["requests"].values())
    # Later runs of the same backfill end at once, even with a good key, without calling the API.
    for key in ("d1.csv", "d2.csv"):
        later = p.run(key, tags=tags)
        assert not later.success
        message = failure_message(later)
        assert "bf-scope was stopped" in message and "403" in message
    assert sum(p.sandbox.ledger()["requests"].values()) == requests
    assert p.imports_executed() == 0

    # Runs outside that backfill are unaffected.
    assert p.run("d1.csv").success


class _FakeWebserver:
    """A stand-in for the Dagster webserver's ``/graphql``: records each query, answers the
    cancel mutation as Dagster does."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []
        queries = self.queries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                queries.append(body)
                answer = {
                    "data": {
                        "cancelPartitionBackfill": {
                            "__typename": "CancelBackfillSuccess",
                            "backfillId": body["variables"]["id"],
                        }
                    }
                }
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_401_stops_the_backfill_and_cancels_it_through_the_webserver(pipeline: Pipeline) -> None:
    p = pipeline
    webserver = _FakeWebserver()
    try:
        p.settings = replace(p.settings, webserver_url=webserver.url)
        (p.drops / "a.csv").write_text(HEADER + lead_rows(5))
        (p.drops / "b.csv").write_text(HEADER + lead_rows(5, start=10))
        revoked = make_resource(p.settings, "clapi_" + "x" * 64)
        tags = {"dagster/backfill": "bf-401"}

        assert "401" in failure_message(p.run("a.csv", tags=tags, resource=revoked))

        # The webserver was asked to cancel the backfill, as the UI's "Cancel backfill" does...
        (cancel,) = webserver.queries
        assert "cancelPartitionBackfill" in cancel["query"]
        assert cancel["variables"] == {"id": "bf-401"}
        # ...and a run the daemon had already launched ends at once.
        assert "bf-401 was stopped" in failure_message(p.run("b.csv", tags=tags))
        assert len(webserver.queries) == 1
    finally:
        webserver.close()


def test_the_stop_record_alone_stops_the_backfill_when_no_webserver_answers(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    # A webserver URL nobody listens on: the cancel fails, the stop record still holds.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p.settings = replace(p.settings, webserver_url=f"http://127.0.0.1:{port}")
    (p.drops / "a.csv").write_text(HEADER + lead_rows(5))
    (p.drops / "b.csv").write_text(HEADER + lead_rows(5, start=10))
    revoked = make_resource(p.settings, "clapi_" + "x" * 64)
    tags = {"dagster/backfill": "bf-nows"}

    assert "401" in failure_message(p.run("a.csv", tags=tags, resource=revoked))
    requests = sum(p.sandbox.ledger()["requests"].values())
    assert "bf-nows was stopped" in failure_message(p.run("b.csv", tags=tags))
    assert sum(p.sandbox.ledger()["requests"].values()) == requests


def test_backfill_wide_budget_stops_when_exhausted(pipeline: Pipeline) -> None:
    p = pipeline
    for i in range(3):
        (p.drops / f"p{i}.csv").write_text(HEADER + lead_rows(30, start=i * 100))
    config = {"dispatch_enrichment": True, "enrichment_type": "partial", "max_credits": 70}
    tags = {"dagster/backfill": "bf-budget"}
    assert p.run("p0.csv", config, tags=tags).success  # 30 of 70
    assert p.run("p1.csv", config, tags=tags).success  # 60 of 70
    third = p.run("p2.csv", config, tags=tags)  # 90 > 70
    assert not third.success
    assert "budget max_credits=70" in failure_message(third)
    assert p.lead_count() == 60


def test_budget_can_come_from_a_backfill_tag(pipeline: Pipeline) -> None:
    """The UI's backfill dialog takes tags, not run config: ``cleanlist/max_credits`` works too."""
    p = pipeline
    for i in range(2):
        (p.drops / f"t{i}.csv").write_text(HEADER + lead_rows(30, start=i * 100))
    config = {"dispatch_enrichment": True, "enrichment_type": "partial"}
    tags = {"dagster/backfill": "bf-tag", "cleanlist/max_credits": "40"}
    assert p.run("t0.csv", config, tags=tags).success  # 30 of 40
    second = p.run("t1.csv", config, tags=tags)  # 60 > 40
    assert not second.success
    assert "budget max_credits=40" in failure_message(second)
