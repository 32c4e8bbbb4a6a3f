"""Keys that lack one scope, and a deployment without ``POST /credits/estimate``: each flow
(import, import + enrichment, enrich-later, snapshot) either works without it — saying what it
skipped — or fails before sending anything, naming the missing scope and what it disables."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from cleanlist_pipeline.api.scopes import CONNECTOR_SCOPES
from cleanlist_pipeline.dagster_layer.lifecycle import build_lifecycle_definitions
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import Settings

from .conftest import HEADER, Pipeline, failure_message, lead_rows, make_resource

ESTIMATE = "POST /credits/estimate"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _key_without(p: Pipeline, scope: str) -> str:
    """A sandbox key with every scope the connector uses but ``scope``."""
    return str(p.sandbox.add_key([s for s in CONNECTOR_SCOPES if s != scope]))


def _warnings(p: Pipeline, key: str) -> str:
    """The import report a user reads (its warnings included)."""
    return str(p.materialization(key)["report"])


def _requests(p: Pipeline, route: str) -> int:
    return int(p.sandbox.ledger()["requests"].get(route, 0))


def _drop(p: Pipeline, name: str, rows: int = 30) -> str:
    (p.drops / name).write_text(HEADER + lead_rows(rows))
    return name


# --- import and import + enrichment ---------------------------------------------------------


def test_import_with_a_key_without_lists_write_names_the_scope_and_imports_nothing(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    resource = make_resource(p.settings, _key_without(p, "lists:write"))
    result = p.run(_drop(p, "plain.csv"), resource=resource)
    assert not result.success
    message = failure_message(result)
    assert "lists:write" in message
    assert "the connector cannot do CSV import" in message
    assert p.imports_executed() == 0 and p.csv_requests() == 0


def test_import_with_enrichment_without_enrich_write_names_the_scope_and_imports_nothing(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    resource = make_resource(p.settings, _key_without(p, "enrich:write"))
    result = p.run(
        _drop(p, "paid.csv"),
        {"dispatch_enrichment": True, "enrichment_type": "partial"},
        resource=resource,
    )
    assert not result.success
    message = failure_message(result)
    assert "enrich:write" in message
    assert "the connector cannot do enrichment" in message
    assert p.imports_executed() == 0 and p.lead_count() == 0
    assert p.sandbox.ledger()["credits"]["charged_total"] == 0


def test_import_with_enrichment_without_credits_read_dispatches_unquoted_with_a_warning(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    resource = make_resource(p.settings, _key_without(p, "credits:read"))
    result = p.run(
        _drop(p, "paid.csv", rows=30),
        {"dispatch_enrichment": True, "enrichment_type": "partial"},
        resource=resource,
    )
    assert result.success, failure_message(result)
    assert p.lead_count() == 30
    meta = p.materialization("paid.csv")
    assert meta["workflow_ids"], "the enrichment was not dispatched"
    warnings = _warnings(p, "paid.csv")
    assert "could not quote" in warnings and "credits:read" in warnings
    assert _requests(p, ESTIMATE) == 1  # asked once, refused with 403, not retried


def test_import_with_enrichment_without_credits_read_and_max_credits_refuses_first(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    resource = make_resource(p.settings, _key_without(p, "credits:read"))
    result = p.run(
        _drop(p, "paid.csv"),
        {"dispatch_enrichment": True, "enrichment_type": "full", "max_credits": 10_000},
        resource=resource,
    )
    assert not result.success
    message = failure_message(result)
    assert "max_credits=10,000" in message and "credits:read" in message
    assert "cannot be quoted" in message and "nothing was imported" in message
    assert p.imports_executed() == 0 and p.csv_requests() == 0
    assert p.sandbox.ledger()["credits"]["charged_total"] == 0


class _NoEstimateProxy(http.server.BaseHTTPRequestHandler):
    """A deployment without ``POST /credits/estimate``: FastAPI's bare 404 for that route,
    everything else forwarded to the sandbox process."""

    upstream = ""

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.command == "POST" and self.path.endswith("/credits/estimate"):
            self._answer(404, b'{"detail":"Not Found"}', {"content-type": "application/json"})
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
        }
        r = httpx.request(
            self.command, self.upstream + self.path, content=body, headers=headers, timeout=60
        )
        keep = {"content-type", "retry-after"}
        self._answer(r.status_code, r.content, {k: v for k, v in r.headers.items() if k in keep})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _forward


@pytest.fixture
def no_estimate_origin(pipeline: Pipeline) -> Iterator[str]:
    handler = type("Proxy", (_NoEstimateProxy,), {"upstream": pipeline.sandbox.origin})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_deployment_without_the_estimate_route_imports_unquoted_or_refuses_with_max_credits(
    pipeline: Pipeline, no_estimate_origin: str
) -> None:
    p = pipeline
    settings = replace(
        p.settings, base_url=no_estimate_origin + p.sandbox.v1[len(p.sandbox.origin) :]
    )
    resource = CleanlistResource.from_settings(settings)
    config = {"dispatch_enrichment": True, "enrichment_type": "partial"}

    refused = p.run(_drop(p, "capped.csv"), {**config, "max_credits": 500}, resource=resource)
    assert not refused.success
    message = failure_message(refused)
    assert "HTTP 404" in message and "max_credits=500" in message
    assert p.imports_executed() == 0

    result = p.run(_drop(p, "open.csv", rows=20), config, resource=resource)
    assert result.success, failure_message(result)
    assert p.lead_count() == 20 and p.materialization("open.csv")["workflow_ids"]
    assert "could not quote" in _warnings(p, "open.csv")


# --- enrich-later and snapshots -------------------------------------------------------------


def _lifecycle(p: Pipeline, key: str) -> dg.Definitions:
    settings: Settings = p.settings
    return dg.Definitions.merge(
        build_lifecycle_definitions(settings),
        dg.Definitions(resources={settings.names.resource: make_resource(settings, key)}),
    )


def _run_for_list(
    p: Pipeline, defs: dg.Definitions, job: str, list_id: str, ops: dict[str, Any] | None = None
) -> dg.ExecuteInProcessResult:
    names = p.settings.names
    if not p.instance.has_dynamic_partition(names.partitions_lists, list_id):
        p.instance.add_dynamic_partitions(names.partitions_lists, [list_id])
    return defs.resolve_job_def(job).execute_in_process(
        instance=p.instance,
        partition_key=list_id,
        run_config={**QUIET, **({"ops": ops} if ops else {})},
        raise_on_error=False,
    )


@pytest.mark.parametrize("only_missing", [False, True], ids=["whole-list", "only-missing"])
def test_enrich_later_without_credits_read_refuses_before_dispatching(
    pipeline: Pipeline, only_missing: bool
) -> None:
    p = pipeline
    list_id = p.sandbox.seed_list("enrich later, no credits:read", 40)
    defs = _lifecycle(p, _key_without(p, "credits:read"))
    node = p.settings.names.enrichment_asset.to_python_identifier()
    config = {"enrichment_type": "partial", "only_missing": only_missing}
    result = _run_for_list(
        p, defs, p.settings.names.enrich_job, list_id, {node: {"config": config}}
    )
    assert not result.success
    message = failure_message(result)
    assert "needs a quote" in message and "credits:read" in message
    assert "Nothing was dispatched" in message
    assert not p.sandbox.ledger()["workflows"]
    assert p.sandbox.ledger()["credits"]["charged_total"] == 0


def test_enrich_later_without_enrich_write_names_the_scope(pipeline: Pipeline) -> None:
    p = pipeline
    list_id = p.sandbox.seed_list("enrich later, no enrich:write", 40)
    defs = _lifecycle(p, _key_without(p, "enrich:write"))
    node = p.settings.names.enrichment_asset.to_python_identifier()
    result = _run_for_list(p, defs, p.settings.names.enrich_job, list_id, {node: {"config": {}}})
    assert not result.success
    message = failure_message(result)
    assert "enrich:write" in message and "the connector cannot do enrichment" in message
    assert not p.sandbox.ledger()["workflows"]


def test_snapshot_without_lists_read_names_the_scope_and_writes_no_file(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    p = pipeline
    list_id = p.sandbox.seed_list("snapshot, no lists:read", 40)
    defs = _lifecycle(p, _key_without(p, "lists:read"))
    result = _run_for_list(p, defs, p.settings.names.snapshot_job, list_id)
    assert not result.success
    message = failure_message(result)
    assert "lists:read" in message and "the connector cannot do snapshots" in message
    data = Path(p.settings.data_dir)
    assert not data.exists() or not list(data.rglob("*.parquet"))
