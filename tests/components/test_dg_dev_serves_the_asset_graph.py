"""`dg dev` serves the project, and the webserver's asset graph has the declared lineage.

`dg dev` (webserver, daemon and code server) runs in its own process group on a free loopback
port with a fresh ``DAGSTER_HOME`` and an empty drop folder; the test reads the asset graph
through the same GraphQL API the UI draws it from, then stops the whole group.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.testing import stop_process_group
from tests.components.conftest import BIN, REPO, DgProject, dg_env

GRAPH = """{ assetNodes { assetKey { path } dependencyKeys { path }
  partitionDefinition { name } groupName kinds } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graph(client: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dg dev exited:\n{log.read_text()[-3000:]}"
        try:
            response = client.post("/graphql", json={"query": GRAPH})
            nodes = response.json()["data"]["assetNodes"]
            if nodes:
                return list(nodes)
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise AssertionError(f"dg dev served no assets:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_dg_dev_draws_import_and_enrichment_into_the_snapshot(tmp_path: Path) -> None:
    home, drops = tmp_path / "home", tmp_path / "drops"
    home.mkdir()
    drops.mkdir()
    env = dg_env(
        DgProject(REPO, "cleanlist_pipeline"),
        DAGSTER_HOME=str(home),
        CLEANLIST_DROPS_DIR=str(drops),
        CLEANLIST_DATA_DIR=str(tmp_path / "data"),
    )
    env.pop("PYTHONPATH")
    port = _free_port()
    log = tmp_path / "dg-dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "dg"), "dev", "--port", str(port), "--host", "127.0.0.1"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            nodes = _graph(client, proc, log)
    finally:
        stop_process_group(proc, timeout=30)

    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    deps = {key: {"/".join(d["path"]) for d in n["dependencyKeys"]} for key, n in by_key.items()}
    assert deps["leads_snapshot"] == {"cleanlist_csv_import", "cleanlist_enrichment"}
    assert deps["cleanlist_csv_import"] == set()
    assert deps["cleanlist_enrichment"] == set()
    assert deps["lead_lists"] == set()
    assert by_key["cleanlist_csv_import"]["partitionDefinition"]["name"] == "csv_drops"
    assert by_key["leads_snapshot"]["partitionDefinition"]["name"] == "cleanlist_lists"
    assert {n["groupName"] for n in nodes} == {"cleanlist"}
    assert "parquet" in by_key["leads_snapshot"]["kinds"]
    with socket.socket() as sock:  # the whole group is gone
        assert sock.connect_ex(("127.0.0.1", port)) != 0
