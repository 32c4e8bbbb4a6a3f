"""Deterministic idempotency keys (≤128 characters) for csv-import and add-leads.

Cleanlist caches a successful csv-import or add-leads answer under its ``idempotency_key`` for
24 hours, *org-wide*: a repeat with the same key imports and bills nothing and is answered with
``idempotency_replayed: true``. Keys are therefore derived from a deployment namespace (so two
deployments sharing an org never collide) and from the content (so a re-run of the same chunk,
even from another process or a retried Dagster step, is recognised).

>>> chunk_import_key("prod", "list_1", "ab" * 32)[:8]
'clp-imp-'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["MAX_KEY_LENGTH", "add_leads_key", "chunk_import_key", "cohort_add_key", "derive_key"]

#: The add-leads schema caps keys at 128 characters; csv-import documents no cap, we use the same.
MAX_KEY_LENGTH = 128


def derive_key(kind: str, *parts: str) -> str:
    """``clp-<kind>-<sha256 hex of the parts>``; parts are length-prefixed so none can blur."""
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    key = f"clp-{kind}-{h.hexdigest()}"
    if len(key) > MAX_KEY_LENGTH:  # only if `kind` itself is absurdly long
        raise ValueError(f"idempotency key kind {kind!r} is too long")
    return key


def chunk_import_key(
    namespace: str, list_id: str, chunk_sha256: str, salt: str | None = None
) -> str:
    """Key for one CSV chunk import: same namespace + list + chunk bytes → same key.

    ``salt`` deliberately forces a new import of identical bytes (e.g. "import again").

    >>> chunk_import_key("ns", "l", "0" * 64) == chunk_import_key("ns", "l", "0" * 64)
    True
    """
    return derive_key("imp", namespace, list_id, chunk_sha256, salt or "")


def add_leads_key(namespace: str, list_id: str, lead_ids: Iterable[str]) -> str:
    """Key for adding these lead ids to this list (order-insensitive).

    Note: within the server's 24 h window, re-adding the *same* ids after removing them replays
    the first answer and adds nothing; pass an explicit fresh key for that case.
    """
    return derive_key("add", namespace, list_id, *sorted(lead_ids))


def cohort_add_key(
    namespace: str, list_id: str, task_id: str, entity_ids: Iterable[str] | None
) -> str:
    """Key for adding a cohort (``task_id`` + optional ``entity_ids``) to a list."""
    ids = sorted(entity_ids) if entity_ids is not None else ["*all*"]
    return derive_key("addc", namespace, list_id, task_id, *ids)
