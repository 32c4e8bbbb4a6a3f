"""The lists catalog asset: every list the key can access, as one Parquet file per UTC day.

Written to ``<root>/lead_lists/snapshot_date=<day>/lead_lists.parquet`` with ``owner_name``,
``visibility``, ``lead_count``, ``folder_id`` and ``created_at``; the metadata counts lists per
visibility (``private`` / ``organization`` / ``shared``; legacy rows have none).
"""

from datetime import UTC, datetime

import dagster as dg

from cleanlist_pipeline.dagster_layer.attributes import api_asset_attributes
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.dagster_layer.snapshots import storage_uri, table_schema_metadata
from cleanlist_pipeline.dagster_layer.step_retry import (
    fail_fast_on_permanent_errors,
)
from cleanlist_pipeline.settings import Names, Settings
from cleanlist_pipeline.storage import LISTS_SCHEMA, column_schema, write_lists_catalog

#: The default instance's key (``settings.names.catalog_asset`` otherwise).
LEAD_LISTS_KEY = Names().catalog_asset


def build_catalog_asset(settings: Settings) -> dg.AssetsDefinition:
    """The catalog of accessible lists (``GET /lead-lists``, all pages)."""
    names = settings.names
    data_dir, embedded = settings.data_dir, settings.embedded

    @dg.asset(
        key=names.catalog_asset,
        kinds={"cleanlist", "parquet"},
        **api_asset_attributes(settings),
        metadata={
            "dagster/column_schema": table_schema_metadata(column_schema(LISTS_SCHEMA)),
            "dagster/uri": dg.MetadataValue.text(storage_uri(f"{data_dir.rstrip('/')}/lead_lists")),
        },
        description=(
            "Every lead list the API key can access (owned, organization-wide, shared), written "
            "to <data_dir>/lead_lists/snapshot_date=<day>/lead_lists.parquet."
        ),
    )
    def lead_lists(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with fail_fast_on_permanent_errors(), cleanlist_of(context, names).get_client() as client:
            result = write_lists_catalog(
                client.iter_lists(),
                data_dir,
                datetime.now(UTC),
                allow_insecure=settings.allow_insecure_object_store,
            )
        context.log.info(f"{result.rows} lists written to {result.path}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "dagster/column_schema": table_schema_metadata(result.column_schema),
                "dagster/uri": dg.MetadataValue.text(storage_uri(result.path)),
                "file_size_bytes": dg.MetadataValue.int(result.bytes),
                "lists_per_visibility": dg.MetadataValue.json(dict(result.visibility_counts)),
                "total_leads": dg.MetadataValue.int(result.total_leads),
                "api": dg.MetadataValue.text("embedded sandbox" if embedded else "Cleanlist API"),
            }
        )

    return lead_lists
