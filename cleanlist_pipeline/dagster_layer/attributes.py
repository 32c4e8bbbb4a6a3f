"""What every asset, sensor and schedule of one pipeline instance carries, decided once.

Group, owners and tags come from ``Settings``; assets that call the API add the instance's
resource, the ``cleanlist_api`` pool and the transport retry policy; automation starts running
only against the embedded sandbox unless the settings say otherwise.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.step_retry import API_POOL, API_RETRY_POLICY
from cleanlist_pipeline.settings import Settings

__all__ = [
    "api_asset_attributes",
    "instance_asset_attributes",
    "schedule_status",
    "sensor_status",
]


def instance_asset_attributes(settings: Settings) -> dict[str, Any]:
    """Group, owners and tags every asset of the instance carries (``@dg.asset(**…)``)."""
    return {
        "group_name": settings.group_name,
        "owners": list(settings.owners) or None,
        "tags": dict(settings.tags) or None,
    }


def api_asset_attributes(settings: Settings) -> dict[str, Any]:
    """:func:`instance_asset_attributes` plus the API pool and the transport retry policy, and
    the instance's resource, for an asset whose one step calls the API."""
    return {
        **instance_asset_attributes(settings),
        "required_resource_keys": {settings.names.resource},
        "pool": API_POOL,
        "retry_policy": API_RETRY_POLICY,
    }


def sensor_status(settings: Settings) -> dg.DefaultSensorStatus:
    """Running with the embedded sandbox, stopped against the real API (nothing runs by itself
    in a customer's workspace) unless ``settings.default_status`` says otherwise."""
    if settings.automation_running:
        return dg.DefaultSensorStatus.RUNNING
    return dg.DefaultSensorStatus.STOPPED


def schedule_status(settings: Settings) -> dg.DefaultScheduleStatus:
    """As :func:`sensor_status`, for the daily schedule."""
    if settings.automation_running:
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED
