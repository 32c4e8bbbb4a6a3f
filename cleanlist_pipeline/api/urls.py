"""Where calls go: splitting a base URL into origin and API prefix, and refusing unsafe ones.

>>> split_base_url("https://api.cleanlist.ai/api/v2")
('https://api.cleanlist.ai', '/api/v2')
"""

from __future__ import annotations

import httpx

from cleanlist_pipeline.api.errors import ConfigurationError
from cleanlist_pipeline.contract import V1_PREFIX
from cleanlist_pipeline.uris import is_loopback_host  # literal names/IPs only, nothing resolved

__all__ = ["V1_PREFIX", "V2_PREFIX", "is_loopback_host", "path_only", "split_base_url"]

#: The API mounts its handlers under ``V1_PREFIX`` and this one (reference §1).
V2_PREFIX = "/api/v2"


def split_base_url(base_url: str) -> tuple[str, str]:
    """Split ``base_url`` into (origin, API prefix) and refuse unsafe schemes.

    >>> split_base_url("https://api.cleanlist.ai/api/v2")
    ('https://api.cleanlist.ai', '/api/v2')
    >>> split_base_url("http://127.0.0.1:8000/api/v1/public/")
    ('http://127.0.0.1:8000', '/api/v1/public')
    """
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"Cleanlist base_url must be an https:// URL (got {base_url!r})")
    if url.scheme == "http" and not is_loopback_host(url.host):
        raise ConfigurationError(
            f"Refusing plain http:// to {url.host}: the API key would travel unencrypted. "
            "Use https://, or http:// only for a loopback sandbox (localhost, 127.0.0.0/8, ::1)."
        )
    path = url.path.rstrip("/")
    root, prefix = "", path
    for known in (V1_PREFIX, V2_PREFIX):
        if path.endswith(known):
            root, prefix = path[: -len(known)], known
            break
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{root}", prefix


def path_only(path: str) -> str:
    """Path without scheme/host (for absolute URLs) — what logs and errors show."""
    if path.startswith(("http://", "https://")):
        return httpx.URL(path).path
    return path
