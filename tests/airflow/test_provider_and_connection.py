"""The provider registers cleanly (Airflow's CLI still works) and the hook checks a key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from typing import Any

import pytest

from cleanlist_pipeline.airflow.provider import get_provider_info
from tests.airflow.airflow_home import connection_json

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_provider_info_names_the_distribution_and_the_connection_type() -> None:
    info = get_provider_info()
    assert info["package-name"] == metadata.metadata("cleanlist-pipeline")["Name"]
    assert info["name"] and info["description"]
    (conn_type,) = info["connection-types"]
    assert conn_type == {
        "connection-type": "cleanlist",
        "hook-class-name": "cleanlist_pipeline.airflow.hook.CleanlistHook",
    }
    # the entry point Airflow reads resolves to this function
    (entry,) = [
        e
        for e in metadata.entry_points(group="apache_airflow_provider")
        if e.value.startswith("cleanlist_pipeline.")
    ]
    assert entry.load()() == info
    # every module the provider advertises imports (Airflow imports them on demand)
    import importlib

    for section in ("hooks", "operators", "sensors", "triggers"):
        for item in info[section]:
            for module in item["python-modules"]:
                importlib.import_module(module)


def test_airflow_cli_lists_the_provider_and_connections() -> None:
    # get_provider_info runs in every Airflow command: both must still work (run side by side)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    commands = {
        "providers": ["providers", "list", "-o", "json"],
        "connections": ["connections", "list", "-o", "json"],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    outputs = {name: proc.communicate(timeout=180) for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"airflow {name}: {outputs[name][1][-2000:]}"
    listed = {p["package_name"]: p for p in json.loads(outputs["providers"][0])}
    assert "cleanlist-pipeline" in listed
    assert isinstance(json.loads(outputs["connections"][0] or "[]"), list)


def test_hook_test_connection_reports_scopes_or_a_clear_refusal(
    cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from cleanlist_pipeline.airflow.hook import CleanlistHook

    monkeypatch.setenv("CLEANLIST_STATE_DIR", str(tmp_path))
    reader = cleanlist_sandbox.add_key(scopes=["lists:read"])
    monkeypatch.setenv("AIRFLOW_CONN_CLEANLIST_DEFAULT", connection_json(cleanlist_sandbox.v2, reader))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEANLIST_WRONG",
        connection_json(cleanlist_sandbox.v2, "clapi_not_a_key_0000000000000000"),
    )

    ok, message = CleanlistHook().test_connection()
    assert ok, message
    assert "scopes: lists:read." in message and reader not in message

    ok, message = CleanlistHook("cleanlist_wrong").test_connection()
    assert not ok
    assert "HTTP 401" in message and "clapi_not_a_key" not in message


def test_without_a_connection_the_hook_uses_the_embedded_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from cleanlist_pipeline.airflow.hook import CleanlistHook

    monkeypatch.setenv("CLEANLIST_STATE_DIR", str(tmp_path))
    hook = CleanlistHook("cleanlist_missing")
    assert hook.mode == "embedded-sandbox"
    assert "embedded-sandbox at http://127.0.0.1:" in hook.describe_target()
    with hook.get_conn() as client:
        assert client.create_list("From Airflow").name == "From Airflow"
    assert (tmp_path / "cleanlist-sandbox.sqlite").exists()
