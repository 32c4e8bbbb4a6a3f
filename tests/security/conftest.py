"""A full demo-style deployment run once with a canary key and canary people, then searched.

The API key is recognisable (``clapi_LEAKCANARY…``), the sandbox serving it keeps its database
and its log inside the deployment's folders (so the scan covers them too), and the drops hold
people whose names, e-mails and phones are unique tokens. The fixture drives what ``make demo``
does — imports with the multiprocess executor and with enrichment dispatched, an import that
fails on a list that is not ours, the enrichment sensor and the snapshot run it requests — and
hands the finished deployment to the tests.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reliability.harness import (
    REPO,
    Deployment,
    RunOutcome,
    SandboxProc,
    csv_bytes,
    free_port,
)

PEOPLE = 40


@dataclass
class CanaryPerson:
    """A person whose every field is a unique, searchable token."""

    first_name: str
    last_name: str
    email: str
    phone: str

    def row(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "company_name": "Canary Works",
            "job_title": "Analyst",
        }

    def needles(self) -> dict[str, bytes]:
        digits = "".join(ch for ch in self.phone if ch.isdigit())
        local = self.email.split("@", 1)[0]
        return {
            f"first name {self.first_name}": self.first_name.encode(),
            f"last name {self.last_name}": self.last_name.encode(),
            f"email {self.email}": self.email.encode(),
            f"email local part {local}": local.encode(),
            f"phone {self.phone}": self.phone.encode(),
            f"phone digits {digits}": digits.encode(),
        }


def canary_people(n: int, tag: str) -> list[CanaryPerson]:
    """``n`` people with random, unmistakable names, e-mails and phones."""
    people = []
    for i in range(n):
        token = secrets.token_hex(4)
        people.append(
            CanaryPerson(
                first_name=f"Quinnfirst{tag}{token}",
                last_name=f"Zebulast{tag}{token}",
                email=f"pii.{tag}{token}.{i}@canary-mail.example",
                phone=f"+1 646 {700 + i:03d} {int(token[:4], 16) % 10000:04d}",
            )
        )
    return people


@dataclass
class DemoRun:
    """The finished deployment and what was fed to it."""

    deployment: Deployment
    sandbox: SandboxProc
    api_key: str
    people: list[CanaryPerson]
    outcomes: list[RunOutcome] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    cli: subprocess.CompletedProcess[bytes] | None = None


def run_cli(
    deployment: Deployment, args: list[str], timeout: float = 240.0
) -> subprocess.CompletedProcess[bytes]:
    """``cleanlist-pipeline ARGS`` as a subprocess; output kept in the deployment's log folder."""
    name = "cli-" + args[0]
    with (
        (deployment.logs / f"{name}.stdout").open("wb") as out,
        (deployment.logs / f"{name}.stderr").open("wb") as err,
    ):
        return subprocess.run(
            [sys.executable, "-c", "from cleanlist_pipeline.cli import main; main()", *args],
            env=deployment.env,
            cwd=REPO,
            stdout=out,
            stderr=err,
            timeout=timeout,
            start_new_session=True,
        )


@pytest.fixture(scope="package")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """Run the pipeline end to end with canaries; the sandbox is stopped before the tests scan."""
    root = tmp_path_factory.mktemp("leakdemo")
    api_key = "clapi_LEAKCANARY" + secrets.token_urlsafe(36)
    deployment = Deployment(
        root=root, base_url="", api_key=api_key, list_name="Canary list (security proof)"
    )
    sandbox = SandboxProc(
        db_path=str(deployment.home / "cleanlist-sandbox.sqlite"),
        port=free_port(),
        keys=[f"{api_key}:*"],
        enrich_seconds=0.5,
        log_path=str(deployment.logs / "sandbox.log"),
    )
    deployment.base_url = sandbox.v2
    sandbox.start()
    demo = DemoRun(deployment, sandbox, api_key, [])
    try:
        a = canary_people(PEOPLE, "a")
        b = canary_people(PEOPLE, "b")
        demo.people = a + b
        rows_b = [p.row() for p in b]
        rows_b.append(dict(b[0].row()))  # a duplicate: removed before sending, reported by number
        rows_b.append(
            {
                "first_name": b[1].first_name,
                "last_name": "",
                "email": "",
                "phone": b[1].phone,
                "company_name": "",
                "job_title": "",
            }
        )  # unimportable
        # 1. What `make demo` does, with a key: `cleanlist-pipeline run` imports every drop,
        #    dispatches enrichment, waits for it through the sensor and writes the snapshots.
        (deployment.drops / "canary").mkdir(parents=True, exist_ok=True)
        (deployment.drops / "canary" / "a.csv").write_bytes(csv_bytes([p.row() for p in a]))
        demo.cli = run_cli(
            deployment,
            [
                "run",
                "--drops",
                str(deployment.drops),
                "--list-name",
                deployment.list_name,
                "--enrichment",
                "full",
                "--timeout",
                "60",
                "--verbose",
            ],
        )
        # 2. A second drop through the multiprocess executor (compute logs per step process),
        #    with a duplicate and an unimportable record.
        key_b = deployment.add_drop("canary/b.csv", csv_bytes(rows_b))
        demo.outcomes.append(
            deployment.run(
                key_b,
                multiprocess=True,
                config={
                    "dispatch_enrichment": True,
                    "enrichment_type": "partial",
                    "max_rows_per_chunk": 25,
                },
            )
        )
        # An import that must fail: the list id is not ours (the error path must not leak either).
        demo.outcomes.append(deployment.run(key_b, config={"list_id": "lst_not_ours_0000"}))
        # 3. The enrichment sensor, daemon-style, until it launches the snapshot for drop b.
        for _ in range(4):
            tick = deployment.tick()
            assert tick is not None
            demo.ticks.append(tick)
            if tick["launched"]:
                break
            time.sleep(1.0)
        yield demo
    finally:
        sandbox.stop()


@pytest.fixture(scope="package")
def finished_demo(demo_run: DemoRun) -> DemoRun:
    """``demo_run`` with the sandbox stopped (its database and log are final)."""
    demo_run.sandbox.stop()
    return demo_run


def paths_under(root: Path) -> list[Path]:
    """Regular files under ``root`` (not following symlinks)."""
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
