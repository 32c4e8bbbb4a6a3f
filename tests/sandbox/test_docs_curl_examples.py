"""The curl examples of the published Lead Lists page run, unchanged, against the sandbox.

Every ``curl`` example is cut out of ``lead-lists-api.txt`` (the shared reference copy, or the copy
vendored in ``tests/sandbox/data`` where ``shared/`` is absent) and run by ``bash -c`` with real
curl. Only these substitutions are made: the host (``https://api.cleanlist.ai`` → the sandbox
origin), the key (``clapi_your_api_key``), the ids (``9c1f...`` → a real list id, ``lead_abc`` /
``lead_def`` → real reachable lead ids), ``base64 -i`` (macOS) → GNU ``base64 -w0``, and for the
v2 run the ``/api/v1/public`` prefix → ``/api/v2``. A shell function named ``curl`` adds only
output options (status code to stdout, body to a file), so the example text itself is untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cleanlist_ai.models.add_leads_response import AddLeadsResponse
from cleanlist_ai.models.csv_import_response import CsvImportResponse
from cleanlist_ai.models.list_detail_response import ListDetailResponse
from cleanlist_ai.models.remove_leads_response import RemoveLeadsResponse
from cleanlist_ai.models.workflow_status_response import WorkflowStatusResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_model

DOC_NAME = "lead-lists-api.txt"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DOC = REPO_ROOT.parent / "shared" / "reference" / DOC_NAME
VENDORED_DOC = Path(__file__).parent / "data" / DOC_NAME

DOC_HOST = "https://api.cleanlist.ai"
DOC_KEY = "clapi_your_api_key"
DOC_LIST_ID = "9c1f..."
DOC_LEAD_IDS = ("lead_abc", "lead_def")
PREFIXES = {"v1": "/api/v1/public", "v2": "/api/v2"}

# The SDK model that validates each documented endpoint's success body.
MODELS: dict[str, Any] = {
    "POST /lead-lists": ListDetailResponse,
    "POST /lead-lists/{list_id}/leads": AddLeadsResponse,
    "DELETE /lead-lists/{list_id}/leads": RemoveLeadsResponse,
    "POST /lead-lists/{list_id}/csv-import": CsvImportResponse,
}
# Example values that differ on every run (ids, clocks); all others must match exactly when the
# example's request alone determines them (everything but the CSV upload).
VOLATILE = {"list_id", "created_at", "timestamp_ms"}

# Prepended to each script: curl keeps every argument of the example and only gains output
# options, so the test can read the status code and the body.
CURL_WRAPPER = (
    'curl() { command curl --silent --show-error --noproxy "*" --max-time 60'
    ' --output "$CURL_BODY" --write-out "%{http_code}" "$@"; }\n'
)

ENDPOINT_LINE = re.compile(r"^(GET|POST|PATCH|DELETE) (/\S+)$", re.M)
SETUP_LINE = re.compile(r"([A-Za-z_]\w*=\$\([^()\n]*\))$")
SAMPLE_VALUES = {
    "first_name": ("Jane", "Raj", "Lena"),
    "last_name": ("Doe", "Patel", "Berg"),
    "full_name": ("Jane Doe", "Raj Patel", "Lena Berg"),
    "email": ("jane@acme.example", "raj@globex.example", "lena@initech.example"),
    "company_name": ("Acme", "Globex", "Initech"),
    "company_domain": ("acme.example", "globex.example", "initech.example"),
    "job_title": ("VP Sales", "CTO", "Founder"),
}


@dataclass(frozen=True)
class CurlExample:
    """One documented example: its shell text and what the doc says comes back."""

    script: str  # setup lines (e.g. ``B64=$(…)``) + the curl command
    method: str
    path: str  # the URL path as printed, prefix included
    endpoint: str  # the section's "METHOD /template"
    status: int  # "Returns NNN." in the section, else 200
    response: dict[str, Any] | None  # the example body printed with it


def doc_text() -> str:
    """The reference page: the shared copy when present, else the vendored one."""
    path = SHARED_DOC if SHARED_DOC.is_file() else VENDORED_DOC
    return path.read_text(encoding="utf-8")


def _command_end(text: str, start: int) -> int:
    """End of the shell command starting at ``start``.

    Quotes and backslash continuations are followed. The page was scraped from HTML, so the
    next block (the response JSON, or prose) is glued onto the command's closing quote: a quote
    that closes with anything but whitespace right after it therefore ends the command too.
    """
    i, quote, n = start, "", len(text)
    while i < n:
        ch = text[i]
        closed = False
        if quote == "'":
            closed = ch == "'"
        elif quote == '"':
            if ch == "\\":
                i += 2
                continue
            closed = ch == '"'
        elif ch == "\\":
            i += 2
            continue
        elif ch in "'\"":
            quote = ch
        elif ch == "\n":
            return i
        if closed:
            quote = ""
            if i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in "'\"\\":
                return i + 1
        i += 1
    return n


def _json_at(text: str, pos: int) -> tuple[dict[str, Any], int] | None:
    try:
        obj, end = json.JSONDecoder().raw_decode(text, pos)
    except ValueError:
        return None
    return (obj, end) if isinstance(obj, dict) else None


def _response_before(text: str, section_start: int, script_start: int) -> dict[str, Any] | None:
    """The section's JSON block that ends right where the example starts (a "Response" block)."""
    for m in re.finditer(r"^\{", text[section_start:script_start], re.M):
        hit = _json_at(text, section_start + m.start())
        if hit and not text[hit[1] : script_start].strip():
            return hit[0]
    return None


def extract_examples(text: str) -> list[CurlExample]:
    """Every curl example of the page, in order, with its section's status and response."""
    examples = []
    for m in re.finditer(r"^curl ", text, re.M):
        start = m.start()
        end = _command_end(text, start)
        script_start = start
        before = text[: start - 1].rsplit("\n", 1)[-1] if start else ""
        setup = SETUP_LINE.search(before)
        if setup:
            script_start = start - 1 - len(before) + setup.start()
        script = text[script_start:end]
        sections = list(ENDPOINT_LINE.finditer(text, 0, start))
        assert sections, f"no 'METHOD /path' line above the example at offset {start}"
        section = sections[-1]
        returns = re.search(r"Returns (\d{3})\b", text[section.end() : start])
        after = text[end:].lstrip(" ")
        follows = _json_at(after, 0) if after.startswith("{") else None
        response = follows[0] if follows else _response_before(text, section.end(), script_start)
        method = re.search(r"-X\s+([A-Z]+)", script)
        url = re.search(re.escape(DOC_HOST) + r"(/[^\s'\"\\]+)", script)
        assert url, f"example without a {DOC_HOST} URL:\n{script}"
        examples.append(
            CurlExample(
                script=script,
                method=method.group(1) if method else "GET",
                path=url.group(1),
                endpoint=f"{section.group(1)} {section.group(2)}",
                status=int(returns.group(1)) if returns else 200,
                response=response,
            )
        )
    return examples


def localise(
    script: str, *, origin: str, prefix: str, key: str, list_id: str, lead_ids: tuple[str, str]
) -> str:
    """Apply exactly the permitted substitutions (host, prefix, key, ids, base64 flag)."""
    out = script.replace(DOC_HOST, origin).replace(PREFIXES["v1"] + "/", prefix + "/")
    out = out.replace(DOC_KEY, key).replace(DOC_LIST_ID, list_id)
    for placeholder, real in zip(DOC_LEAD_IDS, lead_ids, strict=True):
        out = out.replace(f'"{placeholder}"', f'"{real}"')
    out = out.replace("base64 -i ", "base64 -w0 ")
    for left in (DOC_HOST, DOC_KEY, DOC_LIST_ID, *(f'"{x}"' for x in DOC_LEAD_IDS), "base64 -i"):
        assert left not in out, f"placeholder {left!r} left in:\n{out}"
    return out


def write_leads_csv(script: str, folder: Path) -> int:
    """``leads.csv`` with the headers the example's ``column_mapping`` names; returns its rows."""
    mapping_json = re.search(r'"column_mapping":\s*(\{[^{}]*\})', script.replace('\\"', '"'))
    assert mapping_json, f"the CSV example names no column_mapping:\n{script}"
    mapping: dict[str, str] = json.loads(mapping_json.group(1))
    rows = [",".join(mapping.values())]
    for i in range(3):
        rows.append(
            ",".join(SAMPLE_VALUES.get(f, (f"{f} 1", f"{f} 2", f"{f} 3"))[i] for f in mapping)
        )
    (folder / "leads.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return 3


def run_example(script: str, folder: Path) -> tuple[int, dict[str, Any]]:
    """Run a localised example with bash and real curl; returns (status, JSON body)."""
    body_path = folder / "response.json"
    body_path.unlink(missing_ok=True)
    env = dict(os.environ, CURL_BODY=str(body_path))
    done = subprocess.run(
        ["bash", "-c", CURL_WRAPPER + script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"bash/curl failed ({done.returncode}): {done.stderr}"
    return int(done.stdout.strip()), json.loads(body_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", ["reference", "vendored"])
def test_every_curl_example_of_the_page_is_extracted_with_its_response(source: str) -> None:
    # The vendored copy is what runs where shared/ is absent: it must parse the same way.
    text = doc_text() if source == "reference" else VENDORED_DOC.read_text(encoding="utf-8")
    examples = extract_examples(text)
    assert len(examples) == len(re.findall(r"^curl ", text, re.M)) == 4
    assert [e.endpoint for e in examples] == list(MODELS)
    for e in examples:
        template = e.path.replace(DOC_LIST_ID, "{list_id}").removeprefix(PREFIXES["v1"])
        assert f"{e.method} {template}" == e.endpoint, e.script
        assert e.response is not None and "list_id" in e.response, e.endpoint
    assert [e.status for e in examples] == [201, 200, 200, 201]
    assert examples[3].script.startswith("B64=$(base64 -i leads.csv)\ncurl ")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_curl_examples_run_against_the_sandbox(
    cleanlist_sandbox: SandboxHandle, tmp_path: Path, version: str
) -> None:
    assert shutil.which("curl") and shutil.which("bash"), "these examples need bash and curl"
    prefix = PREFIXES[version]
    with cleanlist_sandbox.client(version) as api:
        team = cleanlist_sandbox.seed_info()["lists"]["Team Prospects"]
        page = api.get(f"/lead-lists/{team}/leads", params={"limit": 2}).json()["leads"]
        lead_ids = (page[0]["lead_id"], page[1]["lead_id"])
        list_id: str | None = None
        for example in extract_examples(doc_text()):
            where = f"{example.endpoint} on {prefix}"
            if DOC_LIST_ID in example.script and list_id is None:
                list_id = api.post("/lead-lists", json={"name": "Docs target"}).json()["list_id"]
            script = localise(
                example.script,
                origin=cleanlist_sandbox.origin,
                prefix=prefix,
                key=cleanlist_sandbox.key,
                list_id=list_id or "",
                lead_ids=lead_ids,
            )
            csv_rows = write_leads_csv(script, tmp_path) if "leads.csv" in script else None
            status, body = run_example(script, tmp_path)
            assert status == example.status, (where, status, body)
            assert example.response is not None
            assert set(example.response) <= set(body), (where, sorted(body))
            check_model(MODELS[example.endpoint], body)
            if DOC_LIST_ID in example.script:
                assert body["list_id"] == list_id, where
            else:
                list_id = body["list_id"]  # the list the create example made
            if csv_rows is None:
                for name, value in example.response.items():
                    if name not in VOLATILE:
                        assert body[name] == value, (where, name, body[name], value)
            else:
                assert (body["rows_parsed"], body["rows_imported"]) == (csv_rows, csv_rows)
                assert body["enrichment_status_url"].startswith(prefix + "/enrichment/status/")
                st = api.get(cleanlist_sandbox.origin + body["enrichment_status_url"])
                assert st.status_code == 200, where
                check_model(WorkflowStatusResponse, st.json())
        assert list_id is not None
        leads = api.get(f"/lead-lists/{list_id}/leads").json()["leads"]
    kept = [x["lead_id"] for x in leads]
    assert lead_ids[0] not in kept and lead_ids[1] in kept and len(kept) == 1 + 3
