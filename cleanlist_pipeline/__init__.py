"""cleanlist-pipeline: a Dagster connector for Cleanlist lead lists.

Importing the package is cheap: it imports neither Dagster nor httpx. Public names are loaded on
first access, so ``from cleanlist_pipeline import CleanlistClient`` pulls in only the HTTP client.

>>> from cleanlist_pipeline import CleanlistClient  # doctest: +SKIP
>>> with CleanlistClient(api_key="clapi_…") as client:  # doctest: +SKIP
...     print(client.whoami().organization_name)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "CleanlistClient": "cleanlist_pipeline.api.client",
    "RetryPolicy": "cleanlist_pipeline.api.retry",
    "RateLimitConfig": "cleanlist_pipeline.api.ratelimit",
    "CleanlistError": "cleanlist_pipeline.api.errors",
    "APIError": "cleanlist_pipeline.api.errors",
    "CleanlistResource": "cleanlist_pipeline.dagster_layer.resources",
    "CleanlistComponent": "cleanlist_pipeline.dagster_layer.component",
    "Settings": "cleanlist_pipeline.settings",
    "settings_from_env": "cleanlist_pipeline.settings",
    "build_definitions": "cleanlist_pipeline.definitions",
}

__all__ = [
    "APIError",
    "CleanlistClient",
    "CleanlistComponent",
    "CleanlistError",
    "CleanlistResource",
    "RateLimitConfig",
    "RetryPolicy",
    "Settings",
    "__version__",
    "build_definitions",
    "settings_from_env",
]

if TYPE_CHECKING:  # pragma: no cover
    from cleanlist_pipeline.api.client import CleanlistClient
    from cleanlist_pipeline.api.errors import APIError, CleanlistError
    from cleanlist_pipeline.api.ratelimit import RateLimitConfig
    from cleanlist_pipeline.api.retry import RetryPolicy
    from cleanlist_pipeline.dagster_layer.component import CleanlistComponent
    from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
    from cleanlist_pipeline.definitions import build_definitions
    from cleanlist_pipeline.settings import Settings, settings_from_env


def __dir__() -> list[str]:
    # `dg list components` enumerates the registry module with dir(): lazy names must be listed
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cleanlist_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
