"""The ingest layer stays usable without Dagster or an HTTP client (internals: dependencies)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_ingest_loads_neither_dagster_nor_http_clients() -> None:
    code = (
        "import sys, cleanlist_pipeline.ingest, cleanlist_pipeline.ingest.parallel;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'dagster', 'httpx', 'requests', 'urllib3', 'starlette'});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
