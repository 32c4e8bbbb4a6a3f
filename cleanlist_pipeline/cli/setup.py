"""What a CLI command runs with: its ``Settings`` (environment + flags, or the sample
``defs.yaml`` instance for ``demo``) and the Dagster instance it opens."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cleanlist_pipeline.cli import render
from cleanlist_pipeline.cli.outcomes import StepFailed
from cleanlist_pipeline.settings import (
    EMBEDDED_LIST_NAME,
    Settings,
    SettingsError,
    default_state_dir,
    settings_from_env,
)
from cleanlist_pipeline.uris import UnsafeURIError, check_object_store_uri

if TYPE_CHECKING:  # Dagster is imported when an instance is opened: `snapshot` runs without it
    import dagster as dg

__all__ = [
    "cli_settings",
    "demo_settings",
    "instance_dir",
    "open_instance",
    "quiet_dagster_warnings",
    "sample_instance_settings",
]


def cli_settings(
    *,
    drops: str | None = None,
    data_dir: str | None = None,
    list_name: str | None = None,
    list_id: str | None = None,
    enrichment_type: str | None = None,
    max_credits: int | None = None,
) -> Settings:
    """The environment's settings with the command's flags on top (``None``: flag not given)."""
    settings = settings_from_env(
        drops_dir=str(Path(drops).resolve()) if drops else None,
        data_dir=data_dir,
        enrichment_type=enrichment_type,
        max_credits=max_credits,
    )
    # A list flag replaces the environment's list choice (name or id) as a whole; passing it
    # to settings_from_env would clash with an environment's list of the other kind.
    return checked_locations(settings.replace(list_name=list_name, list_id=list_id))


def checked_locations(settings: Settings) -> Settings:
    """``settings``, once its data and drops locations passed ``uris.check_object_store_uri``:
    refused before anything prints them (credentials in the URI, plain http off loopback)."""
    allow = settings.allow_insecure_object_store
    try:
        check_object_store_uri(settings.data_dir, "CLEANLIST_DATA_DIR", allow_insecure=allow)
        if settings.drops_dir:
            check_object_store_uri(settings.drops_dir, "CLEANLIST_DROPS_DIR", allow_insecure=allow)
    except UnsafeURIError as exc:
        raise SettingsError(str(exc)) from None
    return settings


def sample_instance_settings() -> Settings:
    """The settings of the sample ``defs.yaml`` instance (``cleanlist_pipeline/defs/sample``),
    loaded through Dagster's component tree exactly as ``dg dev`` loads it."""
    import dagster as dg

    from cleanlist_pipeline.dagster_layer.component import CleanlistComponent

    package = Path(__file__).resolve().parents[1]
    try:
        tree = dg.ComponentTree.for_project(package)
    except Exception as exc:  # a wheel install has no project file: the demo is the repo's
        raise StepFailed(
            "the demo runs the sample instance of this repository's dg project "
            f"(cleanlist_pipeline/defs/sample/defs.yaml), which was not found: {exc}"
        ) from exc
    component = tree.load_component("sample", CleanlistComponent)
    return component.to_settings("sample", tree.project_root)


def demo_settings(*, enrichment_type: str, data_dir: str | None) -> Settings:
    """The settings ``demo`` runs with: the sample instance's, with the sample list, embedded
    only."""
    settings = sample_instance_settings().replace(
        data_dir=data_dir, enrichment_type=enrichment_type, list_name=EMBEDDED_LIST_NAME
    )
    if not settings.embedded:
        raise click.UsageError(
            "demo imports sample leads and only runs on the embedded sandbox; unset "
            "CLEANLIST_API_KEY, or use `cleanlist-pipeline run` with your own drops"
        )
    if not settings.drops_dir:
        raise StepFailed("the sample drops are missing (sample_data/drops)")
    return checked_locations(settings)


def instance_dir(settings: Settings) -> Path:
    """The Dagster instance's directory: ``settings.state_dir`` (``$DAGSTER_HOME`` when set,
    else a per-user state directory), created if missing."""
    if not settings.state_dir:
        raise StepFailed("no Dagster instance directory (set DAGSTER_HOME)")
    home = Path(settings.state_dir).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    if settings.state_dir == default_state_dir({}):
        render.instance_without_dagster_home(str(home))
    return home


def open_instance(home: Path) -> dg.DagsterInstance:
    """The persistent Dagster instance in ``home``.

    ``DagsterInstance.local_temp(tempdir=...)`` is the public constructor that opens an instance
    from a given directory: given one, it does exactly what ``DagsterInstance.get()`` does for
    ``$DAGSTER_HOME`` (reads its ``dagster.yaml``, storage persists, nothing is deleted), without
    the CLI writing the environment for ``get()`` to read back.
    """
    import dagster as dg

    return dg.DagsterInstance.local_temp(tempdir=str(home))


def quiet_dagster_warnings() -> None:
    """Dagster warns about preview/beta features it uses internally; not the user's business."""
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*(preview|beta|experimental).*")
