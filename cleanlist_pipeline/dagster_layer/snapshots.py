"""The ``leads_snapshot`` asset (one partition per list) and the IO manager that loads it.

The asset pages through ``GET /lead-lists/{id}/leads`` and streams every page into one Parquet file
per list and UTC day (``<root>/leads/list_id=<id>/snapshot_date=<day>/leads.parquet``) through the
storage layer, which writes atomically and replaces a same-day file. A prefetch thread fetches the
next page while the current one is converted and written: the API is remote, so its latency hides
most of the writer's work.

Lineage: the snapshot depends on the import asset and on the enrichment asset. Imports are
partitioned by drop and snapshots by list; no built-in mapping says "a drop feeds its list", and
without one Dagster would infer identity between drop keys and list ids, so the drop edge maps
*every* drop to each list (``AllPartitionMapping``). Enrichment is partitioned by list like the
snapshot: identity is right there. The run requests of the sensor and the schedule select only
the snapshot, so the edges never make them wait for or re-run the upstream assets.

Downstream assets get the newest snapshot of a list as a pandas ``DataFrame`` or a pyarrow
``Table``, chosen by the input's type annotation::

    @dg.asset(partitions_def=lists_partitions(settings.names))
    def icp_scores(leads_snapshot: pd.DataFrame) -> pd.DataFrame: ...
"""

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pyarrow as pa

from cleanlist_pipeline.dagster_layer.attributes import api_asset_attributes
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.dagster_layer.step_retry import (
    fail_fast_on_permanent_errors,
)

# Paging a list into Parquet is orchestrator-free (the Airflow provider uses it too).
from cleanlist_pipeline.list_snapshot import (  # noqa: F401  (re-exported)
    PAGE_SIZE,
    PREFETCH_PAGES,
    prefetch,
    snapshot_to_parquet,
)
from cleanlist_pipeline.settings import Names, Settings
from cleanlist_pipeline.storage import (
    LEAD_SCHEMA,
    SnapshotResult,
    column_schema,
    latest_snapshot,
    read_snapshot,
)
from cleanlist_pipeline.uris import check_object_store_uri

ROW_COUNT_CHECK = "row_count_matches_list"


def lists_partitions(names: Names) -> dg.DynamicPartitionsDefinition:
    """The tracked lists of one instance: one dynamic partition per list id."""
    return dg.DynamicPartitionsDefinition(name=names.partitions_lists)


#: The default instance's names (``cleanlist_lists``, ``leads_snapshot`` …); a named instance
#: has its own, from ``settings.names``.
LISTS_PARTITIONS = lists_partitions(Names())
LEADS_SNAPSHOT_KEY = Names().snapshot_asset
SNAPSHOT_IO_MANAGER_KEY = Names().io_manager


class SnapshotConfig(dg.Config):
    """Run config of ``leads_snapshot``."""

    retention_days: int | None = None
    """Keep only the newest N daily snapshots of the list (``None``: keep all)."""


def table_schema_metadata(pairs: Iterable[tuple[str, str]]) -> dg.TableSchema:
    """Dagster ``TableSchema`` from ``(name, type)`` pairs (for ``dagster/column_schema``)."""
    return dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in pairs])


#: The columns of every snapshot file, known before anything runs (shown on the asset's spec).
LEADS_COLUMN_SCHEMA = table_schema_metadata(column_schema(LEAD_SCHEMA))


def storage_uri(path: str) -> str:
    """A URI for a path the storage layer returned: object-store URIs as given, local paths as
    ``file://`` URIs (for ``dagster/uri``).

    >>> storage_uri("s3://bucket/leads/x.parquet")
    's3://bucket/leads/x.parquet'
    >>> storage_uri("/data/leads/x.parquet")
    'file:///data/leads/x.parquet'
    """
    if urlsplit(path).scheme and "://" in path:
        return path
    return Path(path).absolute().as_uri()


def local_path(uri: str) -> str:
    """The inverse of :func:`storage_uri` for local files; other URIs unchanged.

    >>> local_path(storage_uri("/data/leads/x.parquet"))
    '/data/leads/x.parquet'
    """
    from urllib.request import url2pathname

    parts = urlsplit(uri)
    return url2pathname(parts.path) if parts.scheme == "file" else uri


def _preview_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(empty list)"
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        cells = ("" if row.get(c) is None else str(row.get(c)).replace("|", "/") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def snapshot_metadata(result: Any, embedded: bool) -> dict[str, Any]:
    """Materialization metadata for a storage ``SnapshotResult`` (no personal data unmasked).

    Each list's snapshot is a table of its own (its own folder, loaded alone by the IO manager),
    so the partition's row count is also the row count of what a reader of the partition gets.
    """
    return {
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        "dagster/partition_row_count": dg.MetadataValue.int(result.rows),
        "dagster/column_schema": table_schema_metadata(result.column_schema),
        "dagster/uri": dg.MetadataValue.text(storage_uri(result.path)),
        "file_size_bytes": dg.MetadataValue.int(result.bytes),
        "duplicates_dropped": dg.MetadataValue.int(result.duplicates_dropped),
        "email_coverage_pct": dg.MetadataValue.float(round(100.0 * result.email_coverage, 2)),
        "phone_coverage_pct": dg.MetadataValue.float(round(100.0 * result.phone_coverage, 2)),
        "provider_counts": dg.MetadataValue.json(dict(result.provider_counts)),
        "preview (masked)": dg.MetadataValue.md(_preview_markdown(list(result.preview))),
        "api": dg.MetadataValue.text("embedded sandbox" if embedded else "Cleanlist API"),
    }


def _row_count_check(result: SnapshotResult, expected: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=ROW_COUNT_CHECK,
        passed=result.rows == expected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "list_lead_count": expected,
            "rows_written": result.rows,
            "duplicates_dropped": result.duplicates_dropped,
        },
        description=(
            None
            if result.rows == expected
            else f"snapshot holds {result.rows} leads but the list reports {expected}"
        ),
    )


def build_snapshot_asset(settings: Settings) -> dg.AssetsDefinition:
    """``leads_snapshot``: page a list's leads into Parquet; check the count against the list."""
    names = settings.names
    key = names.snapshot_asset
    data_dir, embedded = settings.data_dir, settings.embedded
    allow_insecure = settings.allow_insecure_object_store
    # Refused before the URI reaches the asset's metadata (credentials, plain http off loopback).
    check_object_store_uri(data_dir, "CLEANLIST_DATA_DIR", allow_insecure=allow_insecure)

    @dg.asset(
        key=key,
        partitions_def=lists_partitions(names),
        io_manager_key=names.io_manager,
        deps=[
            # A drop feeds one list, but no mapping says which: every drop counts for each list.
            dg.AssetDep(names.import_asset, partition_mapping=dg.AllPartitionMapping()),
            dg.AssetDep(names.enrichment_asset),  # both by list id: identity
        ],
        kinds={"cleanlist", "parquet"},
        **api_asset_attributes(settings),
        metadata={
            "dagster/column_schema": LEADS_COLUMN_SCHEMA,
            "dagster/uri": dg.MetadataValue.text(storage_uri(f"{data_dir.rstrip('/')}/leads")),
        },
        # WARN, so not blocking: a short snapshot is still written and readable; the check says
        # it is incomplete rather than holding back what reads it.
        check_specs=[
            dg.AssetCheckSpec(
                ROW_COUNT_CHECK,
                asset=key,
                description="Rows written (deduplicated by lead_id) equal the list's lead_count.",
            )
        ],
        description=(
            "Every lead of one Cleanlist list (partition = list_id), paged at "
            f"{PAGE_SIZE} per request and written to "
            "<data_dir>/leads/list_id=<id>/snapshot_date=<day>/leads.parquet. Depends on every "
            "drop's import (no mapping says which drop feeds which list) and on the list's "
            "enrichment."
        ),
    )
    def leads_snapshot(
        context: dg.AssetExecutionContext, config: SnapshotConfig
    ) -> dg.MaterializeResult:
        list_id = context.partition_key
        started = time.perf_counter()
        with fail_fast_on_permanent_errors(), cleanlist_of(context, names).get_client() as client:
            result, expected = snapshot_to_parquet(
                client,
                list_id,
                data_dir,
                retention_days=config.retention_days,
                allow_insecure=allow_insecure,
            )
        seconds = time.perf_counter() - started
        context.log.info(
            f"list {list_id}: {result.rows} leads written to {result.path} "
            f"({result.duplicates_dropped} duplicate lead_id rows dropped)"
        )
        metadata = snapshot_metadata(result, embedded)
        metadata["seconds"] = dg.MetadataValue.float(round(seconds, 3))
        metadata["leads_per_second"] = dg.MetadataValue.float(
            round(result.rows / seconds, 1) if seconds > 0 else 0.0
        )
        return dg.MaterializeResult(
            metadata=metadata, check_results=[_row_count_check(result, expected)]
        )

    return leads_snapshot


def _with_list_id(table: pa.Table, list_id: str, several: bool) -> pa.Table:
    # The list id lives in the folder name (hive partition), not in the file; when several lists
    # are concatenated, a column keeps the rows attributable.
    if not several or "list_id" in table.column_names:
        return table
    return table.append_column("list_id", pa.array([list_id] * table.num_rows, pa.string()))


def _wants_pandas(typing_type: Any) -> bool:
    return typing_type is not pa.Table


class LeadsSnapshotIOManager(dg.ConfigurableIOManager):
    """Loads the newest snapshot of each requested list; the asset itself writes the files.

    The input's annotation picks the type: ``pa.Table`` gives a pyarrow Table, anything else
    (``pd.DataFrame``, no annotation) a pandas DataFrame. A downstream asset that is not
    partitioned by list receives every list's newest snapshot, concatenated.
    """

    data_dir: str
    allow_insecure_object_store: bool = False
    """Plain http to an object store off loopback (``Settings.allow_insecure_object_store``)."""
    partitions_def_name: str = LISTS_PARTITIONS.name
    """The instance's lists partitions (``settings.names.partitions_lists``): the lists an
    unpartitioned reader gets when Dagster hands it no partition keys."""

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is not None:
            raise dg.Failure(
                "leads_snapshot writes its own Parquet files; return a MaterializeResult, "
                f"not {type(obj).__name__}"
            )

    def load_input(self, context: dg.InputContext) -> Any:
        if context.has_asset_partitions:
            list_ids = list(context.asset_partition_keys)
        else:
            list_ids = list(context.instance.get_dynamic_partitions(self.partitions_def_name))
        tables: list[pa.Table] = []
        for list_id in list_ids:
            allow = self.allow_insecure_object_store
            path = latest_snapshot(self.data_dir, list_id, allow_insecure=allow)
            if path is None:
                raise dg.Failure(
                    f"no snapshot of list {list_id} under {self.data_dir}: materialize "
                    f"leads_snapshot for partition {list_id} first"
                )
            table = read_snapshot(path, allow_insecure=allow)
            tables.append(_with_list_id(table, list_id, len(list_ids) > 1))
        if not tables:
            raise dg.Failure("no list partitions to load: materialize leads_snapshot first")
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if _wants_pandas(context.dagster_type.typing_type):
            return table.to_pandas()
        return table
