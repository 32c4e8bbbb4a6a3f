"""``cleanlist-sandbox serve``: run the sandbox in the foreground.

The first stdout line is the origin (``http://127.0.0.1:PORT``); without ``--key`` the second
line is the generated all-scope key; the last line is ``X-Sandbox-Admin-Token: TOKEN``, the
header admin calls need (the token is the database file's: restarts over one file keep it). All
are flushed before serving starts. Without ``--db`` the state lives in a temporary (0700)
directory removed when the server exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence

from cleanlist_pipeline.sandbox.admin import ADMIN_TOKEN_HEADER, LOOPBACK
from cleanlist_pipeline.sandbox.server import (
    KeySpec,
    bind_socket,
    make_server,
    origin_of,
    prepare_database,
)


def parse_key(spec: str) -> KeySpec:
    """``KEY:SCOPE1,SCOPE2[@USER]`` → (key, scopes, user); split on the first colon.

    >>> parse_key("clapi_x:lists:read,lists:write@u_1")
    ('clapi_x', ['lists:read', 'lists:write'], 'u_1')
    """
    key, sep, rest = spec.partition(":")
    if not key or not sep or not rest:
        raise argparse.ArgumentTypeError("--key needs KEY:SCOPE1,SCOPE2[@USER]")
    user: str | None = None
    if "@" in rest:
        rest, user = rest.rsplit("@", 1)
    scopes = [s.strip() for s in rest.split(",") if s.strip()]
    if not scopes:
        raise argparse.ArgumentTypeError("--key needs at least one scope (or '*')")
    return key, scopes, user or None


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``cleanlist-sandbox``."""
    p = argparse.ArgumentParser(
        prog="cleanlist-sandbox", description="Local Cleanlist API sandbox (loopback only)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the sandbox in the foreground")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    s.add_argument("--db", default=None, help="SQLite file (default: a new temp file)")
    s.add_argument(
        "--key",
        action="append",
        type=parse_key,
        default=None,
        metavar="KEY:SCOPES[@USER]",
        help="repeatable; scope '*' means all",
    )
    s.add_argument("--rpm-key", type=int, default=30, help="requests/min per key (0 = off)")
    s.add_argument("--rpm-org", type=int, default=60, help="requests/min per org (0 = off)")
    s.add_argument("--credits", type=int, default=100_000)
    s.add_argument("--enrich-seconds", type=float, default=5.0)
    return p


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cleanlist-sandbox``."""
    args = build_parser().parse_args(argv)
    if args.host not in LOOPBACK:
        print("cleanlist-sandbox binds loopback only", file=sys.stderr)
        return 2
    temp_dir = None if args.db else tempfile.mkdtemp(prefix="cleanlist-sandbox-")
    db_path = args.db or os.path.join(str(temp_dir), "sandbox.sqlite")
    db, key = prepare_database(
        db_path,
        args.key,
        rpm_key=args.rpm_key,
        rpm_org=args.rpm_org,
        credits=args.credits,
        enrich_seconds=args.enrich_seconds,
    )
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    lines = [origin_of(args.host, port)]
    if not args.key:
        lines.append(key)
    lines.append(f"{ADMIN_TOKEN_HEADER}: {db.admin_token()}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
    # temporary database is removed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        make_server(db).run(sockets=[sock])
    finally:
        if temp_dir is not None:
            db.close_thread_connection()
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
