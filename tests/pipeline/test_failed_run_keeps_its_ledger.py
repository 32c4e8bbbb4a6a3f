"""A run that fails midway leaves what committed in the ledger; the next run imports only the
chunks that failed, and the failed chunks show in the ``no_chunk_failed`` evaluation."""

from __future__ import annotations

from typing import Any

import dagster as dg

from cleanlist_pipeline.api.errors import ServerError
from cleanlist_pipeline.dagster_layer.checks import evaluate_failed_chunks
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource

from .conftest import HEADER, Pipeline, failure_message, lead_rows

CALLS = {"csv_import": 0}


class _FailingClient:
    """The real client, except that csv-import answers 503 after ``ok`` calls (as if the API
    went down mid-run and the client's own retries gave up)."""

    def __init__(self, client: Any, ok: int) -> None:
        self._client, self._ok = client, ok

    def __enter__(self) -> _FailingClient:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def csv_import(self, *args: Any, **kwargs: Any) -> Any:
        CALLS["csv_import"] += 1
        if CALLS["csv_import"] > self._ok:
            raise ServerError("service unavailable", status=503, code="service_unavailable")
        return self._client.csv_import(*args, **kwargs)


class FailingResource(CleanlistResource):
    ok_imports: int = 2

    def get_client(self) -> Any:  # type: ignore[override]
        return _FailingClient(super().get_client(), self.ok_imports)


def test_rerun_imports_only_the_failed_chunks(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "big.csv").write_text(HEADER + lead_rows(3000))  # 5 chunks of 600
    CALLS["csv_import"] = 0
    flaky = FailingResource(**p.resource_kwargs, ok_imports=2)

    failed = p.run("big.csv", {"step_retry_seconds": 0}, resource=flaky)

    assert not failed.success
    assert "did not answer" in failure_message(failed)
    assert p.lead_count() == 1200  # the two chunks that committed
    import_asset = p.settings.names.import_asset
    failures = evaluate_failed_chunks(p.instance, import_asset, "big.csv")
    assert sorted(f["chunk"] for f in failures) == [2, 3, 4]
    # "Execute checks" on its own (no partition) judges every partition and names the bad one.
    checks_only = dg.Definitions.merge(
        p.definitions(),
        dg.Definitions(
            jobs=[
                dg.define_asset_job(
                    "import_checks", selection=dg.AssetSelection.checks_for_assets(import_asset)
                )
            ]
        ),
    ).resolve_job_def("import_checks")
    evaluations = {
        e.check_name: e
        for e in checks_only.execute_in_process(instance=p.instance).get_asset_check_evaluations()
    }
    assert not evaluations["no_chunk_failed"].passed
    assert "big.csv" in (evaluations["no_chunk_failed"].description or "")

    requests = p.csv_requests()
    again = p.run("big.csv")
    assert again.success, failure_message(again)
    assert p.csv_requests() == requests + 3
    assert p.lead_count() == 3000
    assert evaluate_failed_chunks(p.instance, import_asset, "big.csv") == []
    checks = {e.check_name: e.passed for e in again.get_asset_check_evaluations()}
    assert checks == {"every_record_accounted_for": True, "no_chunk_failed": True}
