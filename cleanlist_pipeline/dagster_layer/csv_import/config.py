"""Run config of one import, and the small rules that read it."""

# No ``from __future__ import annotations``: Dagster reads ``ImportConfig``'s field annotations.
from typing import Any

import dagster as dg
from pydantic import Field

from cleanlist_pipeline.contract import CSV_IMPORT_MAX_ROWS
from cleanlist_pipeline.ingest import DEFAULT_MARGIN
from cleanlist_pipeline.settings import Settings

__all__ = ["MAX_CREDITS_TAG", "MODES", "ImportConfig", "dispatch_settings", "max_credits_of"]

MODES = ("default", "append", "force")
#: The UI's backfill dialog takes tags but no run config, and a backfill's tags reach all its runs.
MAX_CREDITS_TAG = "cleanlist/max_credits"
#: Step retries after the client gave up on a transport failure or 5xx.
STEP_RETRIES = 2


class ImportConfig(dg.Config):
    """Run config of one import (``ops: {cleanlist_csv_import: {config: {...}}}``)."""

    list_name: str | None = Field(
        default=None,
        description="Target list by name (created if missing; create is idempotent on name). "
        "Default: the instance's list_name.",
    )
    list_id: str | None = Field(
        default=None,
        description="Target list by id (wins over list_name). Default: the instance's list_id.",
    )
    mode: str = Field(
        default="default",
        description="default: refuse a drop whose content changed since its last import; "
        "append: import only records not imported before from this partition; force: re-import "
        "every record (the list will hold duplicates).",
    )
    dispatch_enrichment: bool | None = Field(
        default=None,
        description="Start paid enrichment with the import. Default: on when the instance has "
        "an enrichment_type, else off.",
    )
    enrichment_type: str | None = Field(
        default=None,
        description="partial (1 credit/lead), phone_only (10) or full (11). Default: the "
        "instance's enrichment_type.",
    )
    max_credits: int | None = Field(
        default=None,
        description="Spend guard budget (default: the run tag cleanlist/max_credits, else the "
        "balance). In a backfill it is the budget of the whole backfill.",
    )
    column_mapping: dict[str, str] | None = Field(
        default=None,
        description="{canonical_field: CSV header}. Default: <drop>.mapping.json, else inferred "
        "from the header.",
    )
    encoding: str | None = Field(
        default=None, description="Source encoding when not UTF-8 (default: detected)."
    )
    size_margin_bytes: int = Field(
        default=DEFAULT_MARGIN,
        description="Chunks are packed to 150,000 bytes minus this margin.",
    )
    max_rows_per_chunk: int = Field(
        default=CSV_IMPORT_MAX_ROWS, description="At most 600 (the API's cap)."
    )
    step_retry_seconds: float = Field(
        default=30.0,
        description="Wait before step retry n (times n), only after the client gave up on a "
        "transport failure or 5xx; at most 2 step retries.",
    )


def dispatch_settings(config: ImportConfig, settings: Settings) -> tuple[bool, str | None]:
    """(dispatch enrichment?, enrichment type) from run config, else the instance's settings."""
    etype = config.enrichment_type or settings.enrichment_type
    dispatch = (
        config.dispatch_enrichment
        if config.dispatch_enrichment is not None
        else settings.enrichment_type is not None
    )
    return dispatch, etype


def max_credits_of(config: ImportConfig, tags: Any) -> int | None:
    """``max_credits`` from run config, else from the run tag ``cleanlist/max_credits``."""
    if config.max_credits is not None:
        return config.max_credits
    raw = dict(tags).get(MAX_CREDITS_TAG)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise dg.Failure(
            description=f"Run tag {MAX_CREDITS_TAG}={raw!r} is not a whole number of credits."
        ) from exc
