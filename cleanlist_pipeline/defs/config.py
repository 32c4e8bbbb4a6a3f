"""Deployment settings read from the environment, and the embedded-sandbox vs real-API decision.

With no ``CLEANLIST_API_KEY`` the pipeline runs against the embedded sandbox and may default to the
sample drops and a sample list. With a key it talks to the real API, and nothing runs by itself:
no default drop folder or list (sample leads must never land in a customer's workspace), and
sensors and schedules start stopped.

| variable | default (embedded) | default (real API) |
|---|---|---|
| ``CLEANLIST_API_KEY`` | unset → embedded sandbox | the key |
| ``CLEANLIST_BASE_URL`` | embedded origin | ``https://api.cleanlist.ai/api/v1/public`` |
| ``CLEANLIST_DROPS_DIR`` | ``<repo>/sample_data/drops`` | none: set it |
| ``CLEANLIST_DATA_DIR`` | ``data`` | ``data`` |
| ``CLEANLIST_LIST_NAME`` / ``CLEANLIST_LIST_ID`` | ``Sample drops (sandbox)`` | none: set one |
| ``CLEANLIST_NAMESPACE`` | ``default`` | ``default`` (idempotency-key namespace) |
| ``CLEANLIST_ENRICHMENT_TYPE`` | unset: import only | unset: import only |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_REPO_SAMPLE_DROPS = Path(__file__).resolve().parents[2] / "sample_data" / "drops"
EMBEDDED_LIST_NAME = "Sample drops (sandbox)"


@dataclass(frozen=True)
class Settings:
    """What the environment says about this deployment (never holds the API key itself)."""

    embedded: bool
    drops_dir: str | None
    data_dir: str
    list_name: str | None
    list_id: str | None
    namespace: str
    enrichment_type: str | None

    @property
    def mode(self) -> str:
        return "embedded-sandbox" if self.embedded else "api"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``).

    >>> load_settings({}).mode
    'embedded-sandbox'
    """
    env = os.environ if environ is None else environ
    embedded = not env.get("CLEANLIST_API_KEY")
    drops = env.get("CLEANLIST_DROPS_DIR") or (
        str(_REPO_SAMPLE_DROPS) if embedded and _REPO_SAMPLE_DROPS.is_dir() else None
    )
    list_id = env.get("CLEANLIST_LIST_ID") or None
    list_name = env.get("CLEANLIST_LIST_NAME") or (
        EMBEDDED_LIST_NAME if embedded and not list_id else None
    )
    return Settings(
        embedded=embedded,
        drops_dir=drops,
        data_dir=env.get("CLEANLIST_DATA_DIR") or "data",
        list_name=list_name,
        list_id=list_id,
        namespace=env.get("CLEANLIST_NAMESPACE") or "default",
        enrichment_type=env.get("CLEANLIST_ENRICHMENT_TYPE") or None,
    )
