"""The ``lead_lists`` asset: every list the key can access, as one Parquet file per UTC day.

Written to ``<root>/lead_lists/snapshot_date=<day>/lead_lists.parquet`` with ``owner_name``,
``visibility``, ``lead_count``, ``folder_id`` and ``created_at``; the metadata counts lists per
visibility (``private`` / ``organization`` / ``shared``; legacy rows have none).
"""

from datetime import UTC, datetime

import dagster as dg

from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dagster_layer.snapshots import table_schema_metadata
from cleanlist_pipeline.storage import write_lists_catalog

LEAD_LISTS_KEY = dg.AssetKey("lead_lists")


def build_catalog_asset(data_dir: str, embedded: bool) -> dg.AssetsDefinition:
    """``lead_lists``: the catalog of accessible lists (``GET /lead-lists``, all pages)."""

    @dg.asset(
        key=LEAD_LISTS_KEY,
        group_name="cleanlist",
        kinds={"parquet"},
        description=(
            "Every lead list the API key can access (owned, organization-wide, shared), written "
            "to <data_dir>/lead_lists/snapshot_date=<day>/lead_lists.parquet."
        ),
    )
    def lead_lists(
        context: dg.AssetExecutionContext, cleanlist: CleanlistResource
    ) -> dg.MaterializeResult:
        with cleanlist.get_client() as client:
            result = write_lists_catalog(client.iter_lists(), data_dir, datetime.now(UTC))
        context.log.info(f"{result.rows} lists written to {result.path}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "dagster/column_schema": table_schema_metadata(result.column_schema),
                "path": dg.MetadataValue.path(result.path),
                "file_size_bytes": dg.MetadataValue.int(result.bytes),
                "lists_per_visibility": dg.MetadataValue.json(dict(result.visibility_counts)),
                "total_leads": dg.MetadataValue.int(result.total_leads),
                "api": dg.MetadataValue.text("embedded sandbox" if embedded else "Cleanlist API"),
            }
        )

    return lead_lists
