"""All state is in the database file: it survives restarts and two processes share it."""

from __future__ import annotations

from pathlib import Path

from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process

from .helpers import post_csv

PERSIST_IMPORT = {
    "column_mapping": {"email": "Email"},
    "enrichment_type": "partial",
    "idempotency_key": "persist-1",
}


def test_state_survives_restart_and_is_shared_between_processes(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    key = "clapi_persist_test_key"
    spec = [f"{key}:*"]
    with start_sandbox_process(db=db, keys=spec, enrich_seconds=30) as one:
        h1 = SandboxHandle(one.origin, key)
        with h1.client() as c:
            list_id = c.post("/lead-lists", json={"name": "Durable"}).json()["list_id"]
            wf = post_csv(c, list_id, "Email\na@x.com\n", **PERSIST_IMPORT).json()["workflow_id"]
            quote = c.post(
                "/credits/estimate", json={"tool": "enrich_list", "list_id": list_id}
            ).json()["quote_id"]
        with start_sandbox_process(db=db, keys=spec, enrich_seconds=30) as two:
            h2 = SandboxHandle(two.origin, key)
            with h2.client("v1") as c2:
                assert c2.get(f"/lead-lists/{list_id}").json()["lead_count"] == 1
                # Same key, other rows: the answer is the first import's, nothing is imported.
                replay = post_csv(c2, list_id, "Email\nz@x.com\n", **PERSIST_IMPORT).json()
                assert replay["idempotency_replayed"] is True and replay["workflow_id"] == wf
                ok = c2.post("/enrichment/bulk", json={"list_id": list_id, "quote_id": quote})
                assert ok.status_code == 200
            h2.advance_clock(31)
            with h1.client() as c:
                assert c.get(f"/enrichment/status/{wf}").json()["status"] == "completed"
            h2.close()
        h1.close()
    with start_sandbox_process(db=db, keys=spec) as three:
        h3 = SandboxHandle(three.origin, key)
        with h3.client() as c:
            assert c.get(f"/lead-lists/{list_id}").json()["lead_count"] == 1
            assert c.get(f"/enrichment/status/{wf}").json()["status"] == "completed"
        assert h3.ledger()["csv_imports"] == {"executed": 1, "replayed": 1}
        h3.close()


def test_two_processes_racing_one_idempotency_key_import_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "race.sqlite"
    spec = ["clapi_race:*"]
    with (
        start_sandbox_process(db=db, keys=spec) as one,
        start_sandbox_process(db=db, keys=spec) as two,
    ):
        h = SandboxHandle(one.origin, "clapi_race")
        with h.client() as c:
            list_id = c.post("/lead-lists", json={"name": "Race"}).json()["list_id"]
        rows = "Email\n" + "".join(f"p{i}@x.com\n" for i in range(200))
        fields = {
            "column_mapping": {"email": "Email"},
            "dispatch_enrichment": False,
            "idempotency_key": "race-1",
        }

        def post(origin: str) -> bool:
            hh = SandboxHandle(origin, "clapi_race")
            with hh.client() as c:
                r = post_csv(c, list_id, rows, **fields)
            hh.close()
            assert r.status_code == 201
            return bool(r.json()["idempotency_replayed"])

        with ThreadPoolExecutor(8) as pool:
            replayed = list(pool.map(post, [one.origin, two.origin] * 4))
        assert replayed.count(False) == 1
        assert h.ledger()["lists"][list_id]["lead_count"] == 200
        h.close()
