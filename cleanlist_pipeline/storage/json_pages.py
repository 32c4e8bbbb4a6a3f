"""A leads page's raw JSON body straight to Arrow columns (``pyarrow.json``, no Python objects).

Decoding a 500-lead page with orjson and converting its dicts to Arrow costs ~3.8 ms of CPU
holding the GIL; ``pyarrow.json.read_json`` with an explicit schema does both in ~1.9 ms in C++,
without the GIL, so it runs in the prefetch thread while the writer encodes the previous row
group. ``decode_leads_page`` is the ``decode`` of ``CleanlistClient.iter_lead_pages_decoded``.

The fast path only takes a body it reads exactly as the client's own decoding would: Arrow's
reader is strict (a number where a string is declared, a key given twice, a row that is not an
object are errors, never coerced), and the envelope's required fields and every row's
``lead_id`` must be present. Anything else returns None, and the client decodes that body the
usual way, with the usual ``ResponseShapeError`` — the snapshot file is the same either way.
"""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.json as pj

from cleanlist_pipeline.storage.schema import LEAD_FIELDS, LEAD_SCHEMA

__all__ = ["ArrowLeadsPage", "PendingLeadsPage", "decode_leads_page", "read_ahead"]

_LEAD_STRUCT = pa.struct([pa.field(name, LEAD_SCHEMA.field(name).type) for name in LEAD_FIELDS])

#: The ``LeadsPage`` envelope as the client's model types it (``usage`` is free-form: ignored,
#: as are unknown keys, which the model keeps in ``extra``).
_PAGE_SCHEMA = pa.schema(
    [
        ("list_id", pa.string()),
        ("leads", pa.list_(_LEAD_STRUCT)),
        ("total", pa.int64()),
        ("cursor", pa.string()),
        ("task_id", pa.string()),
        ("timestamp_ms", pa.int64()),
        ("agent_instructions", pa.string()),
        ("message", pa.string()),
    ]
)
_PARSE = pj.ParseOptions(
    explicit_schema=_PAGE_SCHEMA,
    unexpected_field_behavior="ignore",
    # The body is read as one block, so a pretty-printed page still parses as one value; allowing
    # newlines would only cost time (~0.3 ms a page) spent looking for row boundaries.
    newlines_in_values=False,
)
# A page is read as one block (the body is one JSON value); below this the reader's minimum.
_MIN_BLOCK = 1 << 16


class ArrowLeadsPage:
    """One page as Arrow: ``arrays`` (one per lead field, in ``LEAD_FIELDS`` order), ``cursor``
    and ``total`` for the client's pagination guards."""

    __slots__ = ("arrays", "cursor", "total")

    def __init__(self, arrays: list[pa.Array], cursor: str | None, total: int) -> None:
        self.arrays = arrays
        self.cursor = cursor
        self.total = total

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __repr__(self) -> str:
        return f"ArrowLeadsPage({len(self)} leads)"  # rows hold personal data: never shown


def decode_leads_page(body: bytes) -> ArrowLeadsPage | None:
    """The page in ``body`` as Arrow, or None when only the client's own decoding may judge it."""
    options = pj.ReadOptions(use_threads=False, block_size=max(len(body) + 1, _MIN_BLOCK))
    try:
        table = pj.read_json(pa.py_buffer(body), read_options=options, parse_options=_PARSE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        # not exactly the page envelope Arrow can type: the client's model path decodes it and
        # raises its own ResponseShapeError when it is malformed (nothing is guessed here)
        return None
    if table.num_rows != 1:
        return None
    row = table.slice(0, 1).combine_chunks()
    list_id, leads, total, cursor = (
        row.column(n)[0] for n in ("list_id", "leads", "total", "cursor")
    )
    if not (list_id.is_valid and leads.is_valid and total.is_valid):
        return None  # a required field missing or null: the model names it
    rows = leads.values  # the StructArray of this one list value
    if rows.null_count:
        return None
    arrays = rows.flatten()
    if arrays[0].null_count:
        return None  # a row without lead_id: the model names the row
    return ArrowLeadsPage(arrays, cursor.as_py(), total.as_py())


class PendingLeadsPage:
    """A page whose ``cursor`` and ``total`` were read from the end of its body, not yet decoded.

    Reading them ahead (``read_ahead``) lets the fetching thread ask for the next page at once,
    while the writer's thread decodes this one (``decode``: ``pyarrow.json`` without the GIL) —
    so decoding overlaps the server's work instead of sitting between two requests. ``len`` is
    0 for an empty page, else 1 until decoded (the pagination guards only ask "empty?").
    """

    __slots__ = ("body", "cursor", "empty", "total")

    def __init__(self, body: bytes, cursor: str | None, total: int, empty: bool) -> None:
        self.body = body
        self.cursor = cursor
        self.total = total
        self.empty = empty

    def __len__(self) -> int:
        return 0 if self.empty else 1

    def __repr__(self) -> str:
        return f"PendingLeadsPage({len(self.body)} bytes)"

    def decode(self) -> ArrowLeadsPage | None:
        """The page as Arrow (None: see ``decode_leads_page``). The caller checks its cursor and
        total against the ones read ahead: the next page was asked for with that cursor."""
        return decode_leads_page(self.body)


def read_ahead(body: bytes) -> PendingLeadsPage | None:
    """``cursor`` and ``total`` from the members after the page's last top-level array, or None.

    A compact body ends ``…}],"total":…,"cursor":…}``: the last ``],"`` closes the ``leads``
    array (inside a string a ``"`` is escaped; a ``],"`` nested deeper leaves the tail with an
    unbalanced ``}``, which does not parse). When the tail does not parse as an object holding
    both members, nothing is guessed: None, and the body is decoded before the next request.
    The whole body is checked against what was read here when it is decoded.
    """
    end = body.rfind(b'],"')
    if end < 0:
        return None
    try:
        tail = orjson.loads(b"{" + body[end + 2 :])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(tail, dict) or "leads" in tail or "cursor" not in tail:
        return None
    cursor, total = tail["cursor"], tail.get("total")
    if not (cursor is None or type(cursor) is str) or type(total) is not int:
        return None
    return PendingLeadsPage(body, cursor, total, body[end - 9 : end + 1] == b'"leads":[]')
