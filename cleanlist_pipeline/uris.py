"""Checks shared by every URI the pipeline is configured with (API base URL, drops, data dir).

Two rules, one place:

* **No credentials in a URI** (``s3://KEY:SECRET@bucket/…``): locations travel into run
  config, metadata, failure messages and the CLI's output, so a secret inside one would be
  printed. Credentials come from the environment (``AWS_ACCESS_KEY_ID`` …) or an instance
  profile instead. :func:`refuse_credentials` raises; :func:`without_credentials` is what a
  message may show of a URI.
* **Plain http only to loopback**: the API key and the leads' personal data must not cross a
  network in clear. Loopback means the literal name ``localhost`` or a loopback address
  (127.0.0.0/8, ``::1``) — not ``*.localhost`` or any other name, whose resolution this process
  does not control. Object stores may be allowed plain http off loopback by an explicit setting
  (``allow_insecure_object_store``); the API never is.

No third-party imports: the API client, storage and drops layers all use this module.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "UnsafeURIError",
    "check_object_store_uri",
    "is_loopback_host",
    "refuse_credentials",
    "refuse_insecure_object_store",
    "without_credentials",
]


class UnsafeURIError(ValueError):
    """A configured URI would leak a secret or personal data (credentials inside, plain http)."""


def is_loopback_host(host: str) -> bool:
    """True for the literal name ``localhost`` and loopback IP literals (nothing is resolved).

    >>> [is_loopback_host(h) for h in ("localhost", "127.0.0.2", "[::1]", "evil.localhost")]
    [True, True, True, False]
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_credentials(uri: str) -> bool:
    parts = urlsplit(uri)
    return "@" in parts.netloc or bool(parts.username or parts.password)


def without_credentials(uri: str) -> str:
    """``uri`` with any ``user:password@`` removed (what a message may show).

    >>> without_credentials("s3://AKIA:secret@bucket/leads?region=eu-west-1")
    's3://bucket/leads?region=eu-west-1'
    """
    parts = urlsplit(uri)
    if not _has_credentials(uri):
        return uri
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=netloc).geturl()


def refuse_credentials(uri: str | os.PathLike[str], what: str) -> None:
    """Raise :class:`UnsafeURIError` when ``uri`` carries ``user:password@``; ``what`` names the
    setting (``"CLEANLIST_DATA_DIR"``). The message never repeats the credentials.

    >>> refuse_credentials("s3://bucket/leads", "CLEANLIST_DATA_DIR")
    """
    text = os.fspath(uri)
    if "://" not in text or not _has_credentials(text):
        return
    raise UnsafeURIError(
        f"{what} ({without_credentials(text)}) carries credentials in the URI; remove them and "
        "set them in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
        "GOOGLE_APPLICATION_CREDENTIALS, or an instance profile): the location is passed to "
        "every step and shown in logs, metadata and messages"
    )


def refuse_insecure_object_store(
    uri: str | os.PathLike[str], what: str, *, allow_insecure: bool = False
) -> None:
    """Raise :class:`UnsafeURIError` for an object store reached over plain http off loopback.

    pyarrow takes the transport from the query string (``?scheme=http``) and the host from
    ``endpoint_override`` (the provider's own endpoint when absent, never loopback). Only an
    explicit ``allow_insecure`` (``CLEANLIST_ALLOW_INSECURE_OBJECT_STORE=1``) lets it through.

    >>> refuse_insecure_object_store("s3://b/x?endpoint_override=127.0.0.1:9000&scheme=http", "d")
    """
    text = os.fspath(uri)
    if allow_insecure or "://" not in text:
        return
    parts = urlsplit(text)
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items() if v}
    if query.get("scheme", "https").lower() != "http":
        return
    endpoint = query.get("endpoint_override", "")
    # endpoint_override is host[:port] or a URL; take the host either way.
    host = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname or ""
    if host and is_loopback_host(host):
        return
    shown = without_credentials(text)
    raise UnsafeURIError(
        f"{what} ({shown}) reaches the object store over plain http at "
        f"{host or 'the provider endpoint'}: the leads' personal data would travel unencrypted. "
        "Use https (drop scheme=http), or — only on a network you trust — set "
        "CLEANLIST_ALLOW_INSECURE_OBJECT_STORE=1 (allow_insecure_object_store)."
    )


def check_object_store_uri(
    uri: str | os.PathLike[str], what: str, *, allow_insecure: bool = False
) -> None:
    """Both rules for a drops or data location: no credentials, no plain http off loopback."""
    refuse_credentials(uri, what)
    refuse_insecure_object_store(uri, what, allow_insecure=allow_insecure)
