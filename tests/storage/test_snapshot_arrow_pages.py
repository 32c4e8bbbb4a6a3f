"""Leads pages decoded straight to Arrow (``pyarrow.json``) write the file the dict path writes.

The snapshot hands each raw page body to ``decode_leads_page``; only a body it reads exactly as
the client's own decoding would is taken, anything else goes the usual way. Both paths, on the
same list from the real sandbox, must give the same file: schema, rows, order, dedupe, summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.api.errors import ResponseShapeError
from cleanlist_pipeline.list_snapshot import decoded_pages, lead_pages, snapshot_to_parquet
from cleanlist_pipeline.storage import write_leads_snapshot
from cleanlist_pipeline.storage.json_pages import (
    ArrowLeadsPage,
    PendingLeadsPage,
    decode_leads_page,
    read_ahead,
)

SNAPSHOT_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _client(sandbox: Any) -> CleanlistClient:
    return CleanlistClient(sandbox.key, sandbox.v2, rate_limit=None)


def _dict_pages(client: CleanlistClient, list_id: str) -> Iterator[Any]:
    # The path every snapshot took before: orjson-decoded pages, rows as received.
    for page in client.iter_lead_pages(list_id, 500):
        yield page.leads.raw


def _same_file(a: str, b: str) -> None:
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    assert fa.schema_arrow.equals(fb.schema_arrow, check_metadata=True)
    assert fa.metadata.num_row_groups == fb.metadata.num_row_groups
    for i in range(fa.metadata.num_row_groups):
        for c in range(fa.metadata.num_columns):
            ca, cb = fa.metadata.row_group(i).column(c), fb.metadata.row_group(i).column(c)
            assert (ca.compression, ca.num_values) == (cb.compression, cb.num_values)
    assert fa.read().equals(fb.read())


def test_arrow_pages_write_the_same_file_as_dict_pages(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("arrow vs dicts", 1700, enriched_fraction=0.5)
    with _client(cleanlist_sandbox) as client:
        pages = list(decoded_pages(lead_pages(client, list_id), list_id))
        assert [type(p) for p in pages] == [ArrowLeadsPage] * 4  # the fast path was taken
        fast, _ = snapshot_to_parquet(
            client, list_id, str(tmp_path / "fast"), snapshot_at=SNAPSHOT_AT
        )
        slow = write_leads_snapshot(
            _dict_pages(client, list_id), str(tmp_path / "slow"), list_id, SNAPSHOT_AT
        )
    _same_file(fast.path, slow.path)
    assert fast.rows == slow.rows == 1700
    assert (fast.email_coverage, fast.phone_coverage, fast.provider_counts, fast.preview) == (
        slow.email_coverage,
        slow.phone_coverage,
        slow.provider_counts,
        slow.preview,
    )


def test_a_page_served_twice_is_deduplicated_the_same_way(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("arrow repeats", 1200, enriched_fraction=0.3)
    bodies: list[bytes] = []

    def keep(body: bytes) -> None:  # the raw bodies as the server sent them
        bodies.append(body)

    with _client(cleanlist_sandbox) as client:
        assert len(list(client.iter_lead_pages_decoded(list_id, keep))) == 3
    arrow = [decode_leads_page(b) for b in [*bodies, bodies[0]]]
    dicts = [orjson.loads(b)["leads"] for b in [*bodies, bodies[0]]]
    assert all(isinstance(p, ArrowLeadsPage) for p in arrow)
    a = write_leads_snapshot(arrow, str(tmp_path / "a"), list_id, SNAPSHOT_AT, row_group_rows=700)
    d = write_leads_snapshot(dicts, str(tmp_path / "d"), list_id, SNAPSHOT_AT, row_group_rows=700)
    _same_file(a.path, d.path)
    assert a.rows == d.rows == 1200
    assert a.duplicates_dropped == d.duplicates_dropped == 500


def test_retries_and_guards_hold_on_the_arrow_path(tmp_path: Path, cleanlist_sandbox: Any) -> None:
    list_id = cleanlist_sandbox.seed_list("arrow retries", 1500)
    cleanlist_sandbox.set_faults([{"method": "GET", "path": "/leads", "p_503": 0.4}], seed=3)
    with CleanlistClient(cleanlist_sandbox.key, cleanlist_sandbox.v2, rate_limit=None) as client:
        result, expected = snapshot_to_parquet(
            client, list_id, str(tmp_path), snapshot_at=SNAPSHOT_AT
        )
    assert result.rows == expected == 1500
    assert pq.read_table(result.path).column("lead_id").unique().__len__() == 1500


_GOOD_ROW = {"lead_id": "a", "email": "a@x.io"}


@pytest.mark.parametrize(
    "body",
    [
        {"list_id": "l", "total": 1, "leads": [{"lead_id": "a", "email": 5}]},  # not a string
        {"list_id": "l", "total": 1, "leads": [{"email": "a@x.io"}]},  # no lead_id
        {"list_id": "l", "total": 1, "leads": [{"lead_id": None}]},
        {"list_id": "l", "total": 1, "leads": ["a"]},  # a row that is not an object
        {"list_id": "l", "total": 1, "leads": [None]},
        {"total": 1, "leads": [_GOOD_ROW]},  # no list_id
        {"list_id": "l", "leads": [_GOOD_ROW]},  # no total
        {"list_id": "l", "total": True, "leads": [_GOOD_ROW]},
        {"list_id": "l", "total": 1, "cursor": 500, "leads": [_GOOD_ROW]},
        {"list_id": "l", "total": 1},  # no leads
        [_GOOD_ROW],  # not an object
    ],
)
def test_a_body_the_model_would_judge_is_left_to_the_model(body: Any) -> None:
    raw = orjson.dumps(body)
    assert decode_leads_page(raw) is None
    assert decode_leads_page(raw + raw) is None  # two values: never one page


def test_a_repeated_key_or_broken_json_is_left_to_the_model() -> None:
    repeated = b'{"list_id":"l","total":1,"leads":[{"lead_id":"a","lead_id":"b"}]}'
    assert decode_leads_page(repeated) is None
    assert decode_leads_page(b'{"list_id":"l","total":1,"leads":[') is None
    assert decode_leads_page(b"") is None


def test_a_pretty_printed_page_reads_as_the_compact_one() -> None:
    page = {"list_id": "l", "total": 1, "cursor": "c1", "leads": [_GOOD_ROW, {"lead_id": "b"}]}
    compact = decode_leads_page(orjson.dumps(page))
    pretty = decode_leads_page(orjson.dumps(page, option=orjson.OPT_INDENT_2))
    assert compact is not None and pretty is not None
    assert [a.to_pylist() for a in pretty.arrays] == [a.to_pylist() for a in compact.arrays]
    assert (pretty.cursor, pretty.total, len(pretty)) == ("c1", 1, 2)


def test_a_page_the_decoder_declines_is_the_clients_own(cleanlist_sandbox: Any) -> None:
    list_id = cleanlist_sandbox.seed_list("arrow declined page", 10)

    def never(body: bytes) -> None:  # as decode_leads_page answers a page it will not judge
        return None

    with _client(cleanlist_sandbox) as client:
        pages = list(client.iter_lead_pages_decoded(list_id, never))
        assert [len(p.leads) for p in pages] == [10]  # the client's own LeadsPage
        with pytest.raises(ValueError, match="page_size"):
            list(client.iter_lead_pages_decoded(list_id, decode_leads_page, page_size=501))


def test_the_cursor_is_read_ahead_from_the_end_of_a_real_page(cleanlist_sandbox: Any) -> None:
    list_id = cleanlist_sandbox.seed_list("read ahead", 1100)
    with _client(cleanlist_sandbox) as client:
        pages = list(lead_pages(client, list_id))
        assert [type(p) for p in pages] == [PendingLeadsPage] * 3  # next request sent at once
        assert [p.cursor is None for p in pages] == [False, False, True]
        decoded = list(decoded_pages(pages, list_id))
    assert [len(p) for p in decoded] == [500, 500, 100]
    assert all(isinstance(p, ArrowLeadsPage) for p in decoded)


@pytest.mark.parametrize(
    "body",
    [
        b'{"list_id":"l","total":1,"cursor":"c","leads":[{"lead_id":"a"}]}',  # cursor first
        b'{"list_id":"l","leads":[{"lead_id":"a"}],"total":1}',  # no cursor member
        b'{"list_id":"l","leads":[{"lead_id":"a"}],"total":1,"usage":{"a":[1],"cursor":"x"}}',
        b'{"list_id":"l","leads":[{"lead_id":"a","tags":["t"],"cursor":"x"}]}',
        b'{"list_id":"l","leads":[{"lead_id":"a"}],"total":"1","cursor":"c"}',
    ],
)
def test_nothing_is_guessed_from_an_end_that_is_not_the_envelope(body: bytes) -> None:
    assert read_ahead(body) is None


def test_a_page_not_matching_its_read_ahead_is_refused() -> None:
    body = b'{"list_id":"l","leads":[{"lead_id":"a"}],"total":1,"cursor":"c"}'
    page = read_ahead(body)
    assert page is not None and (page.cursor, page.total, len(page)) == ("c", 1, 1)
    forged = PendingLeadsPage(body, "other", 1, empty=False)
    with pytest.raises(ResponseShapeError, match="read ahead"):
        list(decoded_pages([forged], "l"))


def test_a_read_ahead_page_pyarrow_refuses_is_judged_as_before(
    tmp_path: Path,
) -> None:
    body = b'{"list_id":"l","leads":[{"lead_id":"a","title":7}],"total":1,"cursor":null}'
    page = read_ahead(body)
    assert page is not None and decode_leads_page(body) is None
    with pytest.raises(TypeError, match="'title'"):  # the dict path's error, naming the column
        write_leads_snapshot(decoded_pages([page], "l"), str(tmp_path), "l", SNAPSHOT_AT)
    broken = PendingLeadsPage(b'{"list_id":"l","leads":[{"lead_id":"a"', None, 1, empty=False)
    with pytest.raises(ResponseShapeError, match="not the JSON"):
        list(decoded_pages([broken], "l"))
