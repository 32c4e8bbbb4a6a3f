"""The leads_snapshot asset: metadata a user sees, the count check, same-day replace, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from cleanlist_pipeline.dagster_layer.lifecycle import SNAPSHOT_JOB, build_lifecycle_definitions
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dagster_layer.snapshots import ROW_COUNT_CHECK, local_path
from cleanlist_pipeline.storage import write_leads_snapshot

from .conftest import QUIET, Pipeline


def _snapshot(
    pipeline: Pipeline, list_id: str, config: dict[str, Any] | None = None, **kw: Any
) -> dg.ExecuteInProcessResult:
    if not pipeline.instance.has_dynamic_partition("cleanlist_lists", list_id):
        pipeline.instance.add_dynamic_partitions("cleanlist_lists", [list_id])
    run_config: dict[str, Any] = dict(QUIET)
    if config:
        run_config["ops"] = {"leads_snapshot": {"config": config}}
    job = (kw.pop("defs", None) or pipeline.defs).resolve_job_def(SNAPSHOT_JOB)
    return job.execute_in_process(
        instance=pipeline.instance, partition_key=list_id, run_config=run_config, **kw
    )


def _meta(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("leads_snapshot")
    return dict(materialization.metadata)


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == ROW_COUNT_CHECK
    return evaluation


def test_snapshot_metadata_shows_counts_schema_coverage_and_a_masked_preview(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("metadata", 1500, enriched_fraction=0.4)
    result = _snapshot(pipeline, list_id)
    meta = _meta(result)
    assert meta["dagster/row_count"].value == 1500
    columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert columns[:6] == ["lead_id", "first_name", "last_name", "full_name", "email", "phone"]
    path = Path(local_path(meta["dagster/uri"].value))
    assert path.exists() and meta["file_size_bytes"].value == path.stat().st_size
    assert f"list_id={list_id}" in str(path)
    table = pq.read_table(path)
    emails = [e for e in table.column("email").to_pylist() if e]
    assert abs(meta["email_coverage_pct"].value - 100 * len(emails) / 1500) < 0.01
    assert 0 < meta["phone_coverage_pct"].value <= 100
    assert sum(meta["provider_counts"].value.values()) == 1500
    preview = meta["preview (masked)"].value
    assert "lead_id" in preview
    assert not any(email in preview for email in emails[:200])
    assert _check(result).passed


def test_a_second_snapshot_the_same_day_replaces_the_first(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("twice", 200)
    first = Path(local_path(_meta(_snapshot(pipeline, list_id))["dagster/uri"].value))
    with cleanlist_sandbox.client() as client:
        body = client.get("/lead-lists/" + list_id + "/leads", params={"limit": 3}).json()
        client.request(
            "DELETE",
            f"/lead-lists/{list_id}/leads",
            json={"lead_ids": [lead["lead_id"] for lead in body["leads"]]},
        )
    second = Path(local_path(_meta(_snapshot(pipeline, list_id))["dagster/uri"].value))
    assert first == second
    assert pq.ParquetFile(second).metadata.num_rows == 197
    assert len(list(second.parent.parent.iterdir())) == 1


def test_retention_keeps_only_the_newest_days(pipeline: Pipeline, cleanlist_sandbox: Any) -> None:
    list_id = cleanlist_sandbox.seed_list("retention", 50)
    now = datetime.now(UTC)
    for days in (1, 2, 3, 4):
        write_leads_snapshot(
            [[{"lead_id": "x"}]], str(pipeline.data), list_id, now - timedelta(days=days)
        )
    _snapshot(pipeline, list_id, {"retention_days": 2})
    days = sorted(p.name for p in (pipeline.data / "leads" / f"list_id={list_id}").iterdir())
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert days == [f"snapshot_date={yesterday}", f"snapshot_date={now.date().isoformat()}"]


class _Pages:
    """Wraps a real client and alters the pages it returns (an API misbehaving)."""

    def __init__(self, client: Any, mode: str) -> None:
        self._client, self._mode = client, mode

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __enter__(self) -> _Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def iter_lead_pages(self, list_id: str, page_size: int = 500) -> Any:
        pages = list(self._client.iter_lead_pages(list_id, page_size))
        if self._mode == "repeat":  # a page served twice (a cursor that did not advance)
            pages.insert(1, pages[0])
        else:  # the last page never came back
            pages = pages[:-1]
        return iter(pages)


class _MisbehavingResource(CleanlistResource):
    mode_for_test: str = "repeat"

    def get_client(self) -> Any:
        return _Pages(self._new_client(), self.mode_for_test)


def _defs_with(pipeline: Pipeline, cleanlist_sandbox: Any, mode: str) -> dg.Definitions:
    resource = _MisbehavingResource.from_settings(pipeline.settings, mode_for_test=mode)
    return dg.Definitions.merge(
        build_lifecycle_definitions(pipeline.settings),
        dg.Definitions(resources={pipeline.settings.names.resource: resource}),
    )


def test_a_repeated_page_is_deduplicated_by_lead_id(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("repeat", 1200)
    result = _snapshot(pipeline, list_id, defs=_defs_with(pipeline, cleanlist_sandbox, "repeat"))
    meta = _meta(result)
    assert meta["dagster/row_count"].value == 1200
    assert meta["duplicates_dropped"].value == 500
    assert _check(result).passed


def test_fewer_leads_than_lead_count_is_a_failed_warn_check(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("short", 1200)
    result = _snapshot(pipeline, list_id, defs=_defs_with(pipeline, cleanlist_sandbox, "short"))
    assert result.success  # the data is written; the check says it is incomplete
    check = _check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["list_lead_count"].value == 1200
    assert check.metadata["rows_written"].value == 1000
    assert "1000 leads but the list reports 1200" in (check.description or "")
