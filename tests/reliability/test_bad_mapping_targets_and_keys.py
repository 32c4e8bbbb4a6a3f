"""Wrong mappings, wrong lists, under-scoped keys and too few credits: clear errors, no loss.

Every case runs the real definitions against the sandbox after a good drop was imported, and
checks what the user reads (the field, list or scope named, and what to do) and that the rows
already imported are still there and nothing new was imported. See docs/bad-input.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.testing import FIXTURE_SETTINGS, SandboxHandle, SandboxProcess

from .harness import csv_bytes, find_list, lead_rows
from .inprocess import InProcessDeployment

LIST = "Bad mapping proofs"
GOOD_ROWS = 40


@pytest.fixture(scope="module")
def world(
    cleanlist_sandbox_process: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[InProcessDeployment, SandboxHandle]]:
    """One sandbox state and one good import shared by this module's cases (each case checks
    that it changed nothing, so they cannot disturb each other)."""
    sandbox = SandboxHandle(cleanlist_sandbox_process.origin, cleanlist_sandbox_process.key)
    sandbox.clear_faults()
    sandbox.settings(**FIXTURE_SETTINGS)
    sandbox.reset()
    dep = InProcessDeployment(tmp_path_factory.mktemp("badmapping"), sandbox.v2, sandbox.key, LIST)
    dep.write("good.csv", csv_bytes(lead_rows(GOOD_ROWS, tag="good")))
    first = dep.run("good.csv")
    assert first.success, first.message
    yield dep, sandbox
    dep.close()
    sandbox.close()


@pytest.fixture
def deployment(world: tuple[InProcessDeployment, SandboxHandle]) -> InProcessDeployment:
    return world[0]


@pytest.fixture
def sandbox(world: tuple[InProcessDeployment, SandboxHandle]) -> SandboxHandle:
    return world[1]


def _lead_count(sandbox: SandboxHandle) -> int:
    _, info = find_list(sandbox.ledger(), LIST)
    return int(info["lead_count"])


def _expect_failure(
    dep: InProcessDeployment,
    sandbox: SandboxHandle,
    partition: str,
    patterns: list[str],
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    imports_before = sandbox.ledger()["csv_imports"]["executed"]
    result = dep.run(partition, config=config, env=env)
    assert not result.success, f"{partition} should have failed"
    for pattern in patterns:
        assert re.search(pattern, result.message, re.IGNORECASE), (pattern, result.message)
    assert sandbox.ledger()["csv_imports"]["executed"] == imports_before
    assert _lead_count(sandbox) == GOOD_ROWS
    return result.message


def test_mapped_header_missing_from_the_file_is_named(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    deployment.write("wrong_mapping.csv", csv_bytes(lead_rows(5, tag="m")))
    _expect_failure(
        deployment,
        sandbox,
        "wrong_mapping.csv",
        [r"wrong_mapping\.csv", r"E-Mail Address", r"mapping|header"],
        config={"column_mapping": {"email": "E-Mail Address"}},
    )


def test_ambiguous_header_asks_for_an_explicit_mapping(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    deployment.write("ambiguous.csv", b"email,url\nx@example.com,https://linkedin.com/in/x\n")
    _expect_failure(
        deployment,
        sandbox,
        "ambiguous.csv",
        [r"ambiguous\.csv", r"'url'", r"ambiguous", r"column_mapping"],
    )


def test_unknown_canonical_field_lists_the_valid_ones(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    deployment.write("unknown_field.csv", csv_bytes(lead_rows(5, tag="u")))
    _expect_failure(
        deployment,
        sandbox,
        "unknown_field.csv",
        [r"unknown_field\.csv", r"favourite_colour", r"company_name"],
        config={"column_mapping": {"email": "email", "favourite_colour": "job_title"}},
    )


def test_list_id_that_does_not_exist_is_named(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    deployment.write("to_missing_list.csv", csv_bytes(lead_rows(5, tag="x")))
    _expect_failure(
        deployment,
        sandbox,
        "to_missing_list.csv",
        [r"lst_does_not_exist_42|not.found|404"],
        config={"list_id": "lst_does_not_exist_42"},
    )


def test_list_of_another_organization_is_refused_like_a_missing_one(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    other_key = sandbox.add_key(scopes=["*"], user="u_other_org", org="org_other")
    with httpx.Client(
        base_url=sandbox.v2, headers={"Authorization": f"Bearer {other_key}"}
    ) as http:
        r = http.post("/lead-lists", json={"name": "Someone else's list"})
        r.raise_for_status()
        foreign = r.json()["list_id"]
        foreign_count = http.get(f"/lead-lists/{foreign}").json()["lead_count"]
    deployment.write("to_foreign_list.csv", csv_bytes(lead_rows(5, tag="y")))
    message = _expect_failure(
        deployment, sandbox, "to_foreign_list.csv", [r"404|not.found"], config={"list_id": foreign}
    )
    assert other_key not in message and sandbox.key not in message
    assert sandbox.ledger()["lists"][foreign]["lead_count"] == foreign_count


def test_key_without_lists_write_names_the_missing_scope(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    read_only = sandbox.add_key(scopes=["lists:read", "credits:read"])
    deployment.write("read_only_key.csv", csv_bytes(lead_rows(5, tag="r")))
    message = _expect_failure(
        deployment,
        sandbox,
        "read_only_key.csv",
        [r"403", r"insufficient_scope|scope", r"lists:write"],
        env={"CLEANLIST_API_KEY": read_only},
    )
    assert read_only not in message


def test_key_without_enrich_write_cannot_dispatch_and_imports_nothing(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    no_enrich = sandbox.add_key(scopes=["lists:read", "lists:write", "credits:read", "enrich:read"])
    deployment.write("no_enrich_scope.csv", csv_bytes(lead_rows(5, tag="e")))
    message = _expect_failure(
        deployment,
        sandbox,
        "no_enrich_scope.csv",
        [r"403|insufficient_scope|scope", r"enrich:write"],
        config={"dispatch_enrichment": True, "enrichment_type": "partial"},
        env={"CLEANLIST_API_KEY": no_enrich},
    )
    assert no_enrich not in message


def test_insufficient_credits_stop_the_import_before_anything_is_sent(
    deployment: InProcessDeployment, sandbox: SandboxHandle
) -> None:
    # A small balance: the setting applies to the organization on reset, so import the good
    # drop again into the (re-created) list afterwards.
    sandbox.settings(credits=50)
    sandbox.reset()
    assert deployment.run("good.csv").success
    balance = httpx.get(
        sandbox.v2 + "/credits/balance", headers={"Authorization": f"Bearer {sandbox.key}"}
    ).json()["credits"]
    assert balance == 50
    rows = 20  # full enrichment costs 11 per lead: 220 credits > 50
    deployment.write("too_expensive.csv", csv_bytes(lead_rows(rows, tag="c")))
    _expect_failure(
        deployment,
        sandbox,
        "too_expensive.csv",
        [r"credit", r"exceed|insufficient|shortfall", r"\d"],
        config={"dispatch_enrichment": True, "enrichment_type": "full"},
    )
