"""Enrich-later under the shared spend guard, and the sensor's poke mode (no triggerer)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from cleanlist_pipeline.airflow.enrich import CleanlistEnrichOperator
from cleanlist_pipeline.airflow.sensor import CleanlistEnrichmentSensor
from tests.airflow.airflow_home import connection_json

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_enrich_later_is_refused_over_budget_then_dispatched_and_poked_to_the_end(
    cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLEANLIST_STATE_DIR", str(tmp_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEANLIST_DEFAULT", connection_json(cleanlist_sandbox.v2, cleanlist_sandbox.key)
    )
    list_id = cleanlist_sandbox.seed_list("To enrich", leads=30)

    too_little = CleanlistEnrichOperator(
        task_id="enrich", list_id=list_id, enrichment_type="full", max_credits=20
    )
    with pytest.raises(AirflowFailException, match="spend guard: 30 leads miss what full finds"):
        too_little.execute({})
    assert cleanlist_sandbox.ledger()["workflows"] == {}  # nothing was dispatched

    enrich = CleanlistEnrichOperator(
        task_id="enrich", list_id=list_id, enrichment_type="partial", max_credits=1_000
    )
    workflow_ids = enrich.execute({})
    assert workflow_ids and set(workflow_ids) <= set(cleanlist_sandbox.ledger()["workflows"])

    sensor = CleanlistEnrichmentSensor(
        task_id="wait", workflow_ids=workflow_ids, deferrable=False, poke_interval=0.5
    )
    deadline = time.monotonic() + 30
    while not sensor.poke({}):
        assert time.monotonic() < deadline, "enrichment did not finish in 30 s"
        time.sleep(0.5)
    done = sensor._finish({"status": "success", "failed": [], "workflows": sensor._finished})
    assert {w["status"] for w in done["workflows"].values()} == {"completed"}
    with pytest.raises(AirflowFailException, match="did not complete: wf-x"):
        sensor._finish({"status": "failed", "failed": ["wf-x"], "workflows": {}})
