"""The embedded sandbox: one server thread per process over the state directory's SQLite file.

Every Dagster process (webserver, daemon, run workers) starts its own thread on a free port, and
they all agree because all state — including the fixed ``EMBEDDED_API_KEY`` and the admin
token — is in the file. The file is 0600; a state directory the sandbox creates is 0700.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cleanlist_pipeline.sandbox.server import SandboxServer

# Not a secret: the embedded sandbox listens on loopback only and holds synthetic data.
EMBEDDED_API_KEY = "clapi_sandbox_embedded_local_only_0000000000000000000000000000000000"
DB_NAME = "cleanlist-sandbox.sqlite"

#: A folder the sandbox creates: owner only (it holds leads and the admin token).
PRIVATE_DIR_MODE = 0o700

_lock = threading.Lock()
_servers: dict[str, SandboxServer] = {}


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with the leaf 0700; an existing folder is the
    user's choice (``$DAGSTER_HOME``) and keeps its mode — the file inside is 0600 anyway."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:  # another process won the race: it used the same mode
        return
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened


def ensure_embedded_sandbox(home: Path | str, enrich_seconds: float = 3.0) -> SandboxServer:
    """Start (once per process and file) and return the embedded sandbox over ``home``'s file.

    Rate limits are off; an enrichment workflow takes ``enrich_seconds``. The first start in a
    process decides: a later call for the same file gets the running server as it is.
    """
    db_path = str(Path(home) / DB_NAME)
    with _lock:
        srv = _servers.get(db_path)
        if srv is not None and srv.running:
            return srv
        make_private_dir(Path(home))
        srv = SandboxServer(
            db_path=db_path,
            keys=[(EMBEDDED_API_KEY, ["*"], None)],
            rpm_key=0,
            rpm_org=0,
            enrich_seconds=enrich_seconds,
        )
        srv.start()
        _servers[db_path] = srv
        return srv
