"""`dagster dev` serves the definitions; a real import launched through GraphQL succeeds, and
`cleanlist-pipeline backfill` launches a backfill through the same webserver.

The webserver, daemon and code server run headless in their own process group on a free
loopback port, with a fresh ``DAGSTER_HOME`` (so the embedded sandbox database is fresh too).
The drop folder starts empty so the drop sensor has nothing to import on its own; the test then
places one sample drop, registers its partition and launches ``cleanlist_import_job`` through
GraphQL, and reads the sandbox ledger (through its own server thread on the same SQLite file).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "drops" / "2025-01-acme-webinar.csv"
DAGSTER = Path(sys.executable).parent / "dagster"
CLI = Path(sys.executable).parent / "cleanlist-pipeline"

REPOS = """{ repositoriesOrError { __typename ... on RepositoryConnection {
  nodes { name location { name } jobs { name } } } } }"""
ADD_PARTITION = """mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename ... on PythonError { message } ... on UnauthorizedError { message } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidSubsetError { message } ... on PipelineNotFoundError { message } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def _wait_for_repository(client: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited:\n{log.read_text()[-3000:]}"
        try:
            data = _gql(client, REPOS)["repositoriesOrError"]
            if data["__typename"] == "RepositoryConnection" and data["nodes"]:
                return data["nodes"][0]
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(1)
    raise AssertionError(f"dagster dev did not serve the repository:\n{log.read_text()[-3000:]}")


def _ledger(home: Path) -> dict[str, Any]:
    from cleanlist_pipeline.sandbox.embedded import ensure_embedded_sandbox

    server = ensure_embedded_sandbox(home)
    return httpx.get(
        f"{server.origin}/_sandbox/ledger", headers=server.admin_headers, timeout=30
    ).json()


@pytest.mark.slow
def test_an_import_launched_through_graphql_succeeds_and_reaches_the_sandbox(
    tmp_path: Path,
) -> None:
    home, drops, data = tmp_path / "home", tmp_path / "drops", tmp_path / "data"
    for folder in (home, drops, data):
        folder.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CLEANLIST_DROPS_DIR": str(drops),
        "CLEANLIST_DATA_DIR": str(data),
        "CLEANLIST_LIST_NAME": "GraphQL import test",
    }
    env.pop("CLEANLIST_API_KEY", None)
    env.pop("CLEANLIST_ENRICHMENT_TYPE", None)
    log = tmp_path / "dagster-dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(DAGSTER),
                "dev",
                "-w",
                "dagster_workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            repo = _wait_for_repository(client, proc, log)
            assert "cleanlist_import_job" in {job["name"] for job in repo["jobs"]}
            selector = {
                "repositoryName": repo["name"],
                "repositoryLocationName": repo["location"]["name"],
            }
            key = SAMPLE.name
            shutil.copy(SAMPLE, drops / key)
            added = _gql(
                client, ADD_PARTITION, {"repo": selector, "name": "csv_drops", "key": key}
            )["addDynamicPartition"]
            assert added["__typename"] in {
                "AddDynamicPartitionSuccess",
                "DuplicateDynamicPartitionError",
            }, added
            before = _ledger(home)["csv_imports"]["executed"]
            launched = _gql(
                client,
                LAUNCH,
                {
                    "params": {
                        "selector": {**selector, "jobName": "cleanlist_import_job"},
                        "runConfigData": {},
                        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": key}]},
                    }
                },
            )["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            status = "QUEUED"
            deadline = time.monotonic() + 240
            while status not in TERMINAL and time.monotonic() < deadline:
                time.sleep(1)
                status = _gql(client, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            assert status == "SUCCESS", f"run {run_id} ended {status}:\n{log.read_text()[-3000:]}"
            # `cleanlist-pipeline backfill` launches a real asset backfill through the same
            # webserver; the drop is imported already, so its run finds it all in the ledger.
            backfill = subprocess.run(
                [
                    str(CLI),
                    "backfill",
                    "--url",
                    f"http://127.0.0.1:{port}",
                    "--drops",
                    str(drops),
                    "--wait",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert backfill.returncode == 0, backfill.stdout + backfill.stderr[-2000:]
            assert "1 drop(s)" in backfill.stdout and "COMPLETED" in backfill.stdout
        ledger = _ledger(home)
        assert ledger["csv_imports"]["executed"] > before
        (target,) = [
            lst for lst in ledger["lists"].values() if lst["name"] == "GraphQL import test"
        ]
        assert target["rows_imported"] > 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    # the whole group is gone: nothing left serving the port
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
