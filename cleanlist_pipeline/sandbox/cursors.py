"""Opaque, signed pagination cursors.

A cursor is ``base64url("<last position>.<hmac>")``, the HMAC binding it to the route kind, the
resource (list id, folder filter) and the caller's key hash. So a cursor is not an offset a
client could compute, and a malformed, tampered or foreign one is detected (400, never a silent
restart at page one). Keyset pagination by position keeps page N as cheap as page 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cleanlist_pipeline.sandbox.errors import validation


def _sig(secret: str, kind: str, bound: str, last: int) -> str:
    msg = f"{kind}|{bound}|{last}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:20]


def make_cursor(secret: str, kind: str, bound: str, last: int) -> str:
    """Cursor continuing after position ``last`` for ``(kind, bound)``."""
    raw = f"{last}.{_sig(secret, kind, bound, last)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(secret: str, kind: str, bound: str, token: str) -> int:
    """The position a cursor continues after; 400 ``validation_error`` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        last_s, sig = raw.split(".", 1)
        last = int(last_s)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad() from None
    if not hmac.compare_digest(sig, _sig(secret, kind, bound, last)):
        raise _bad()
    return last


def _bad() -> Exception:
    return validation(
        "The cursor is malformed, expired or belongs to another listing.",
        fix="Pass the cursor exactly as the previous page returned it, or omit it to start over.",
        details={"param": "cursor"},
    )
