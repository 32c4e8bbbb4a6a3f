"""Answers are decoded with orjson for speed; whatever orjson refuses still decodes as before.

orjson takes UTF-8 only and refuses ``NaN`` and integers past 64 bits, all of which Python's
``json`` (what ``httpx.Response.json`` uses) accepts. A user must see the same values either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.api import CleanlistClient, ResponseShapeError

LIST = {"list_id": "l1", "name": "Q3 Outbound — Zürich", "lead_count": 3, "enriched_count": 1}


def raw(content: bytes, content_type: str = "application/json") -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(
        200, content=content, headers={"content-type": content_type}
    )


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps(LIST, ensure_ascii=False).encode(), "application/json"),
        (json.dumps(LIST).encode(), "application/json"),  # \\u escapes
        (json.dumps(LIST, ensure_ascii=False).encode("utf-16"), "application/json; charset=utf-16"),
        (json.dumps(LIST, indent=2).encode(), "application/json"),
    ],
    ids=["utf-8", "escaped", "utf-16", "pretty"],
)
def test_list_decodes_the_same_in_every_encoding(
    mock_client: Callable[..., CleanlistClient], content: bytes, content_type: str
) -> None:
    lst = mock_client(raw(content, content_type)).get_list("l1")
    assert (lst.name, lst.lead_count, lst.enriched_count) == (LIST["name"], 3, 1)


def test_values_only_the_standard_decoder_takes_are_kept(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    body = '{"list_id": "l1", "name": "Q3", "lead_count": 3, "enriched_count": 0, "score": NaN, "big": 123456789012345678901234567890}'
    lst = mock_client(raw(body.encode())).get_list("l1")
    assert lst.lead_count == 3
    assert lst.extra["big"] == 123456789012345678901234567890
    assert lst.extra["score"] != lst.extra["score"]  # NaN


def test_lead_rows_match_the_standard_decoder(mock_client: Callable[..., CleanlistClient]) -> None:
    leads: list[dict[str, Any]] = [
        {"lead_id": "ld_1", "full_name": "Zoë Ñúñez 🚀", "email": None, "title": 'CTO\n"R&D"'},
        {"lead_id": "ld_2", "company": "ACME\u2028Corp", "tags": ["x"]},
    ]
    body = json.dumps({"list_id": "l1", "leads": leads, "total": 2, "cursor": None, "task_id": "t"})
    page = next(mock_client(raw(body.encode())).iter_lead_pages("l1"))
    assert [dict(row) for row in page.leads.raw] == json.loads(body)["leads"]
    assert page.leads[0].full_name == "Zoë Ñúñez 🚀"


def test_truncated_body_is_still_a_shape_error(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(raw(json.dumps(LIST).encode()[:-5]))
    with pytest.raises(ResponseShapeError, match="not JSON"):
        client.get_list("l1")
