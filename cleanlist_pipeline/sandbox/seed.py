"""Seed data and bulk lead writing: the fixed fresh-sandbox world and synthetic N-lead lists.

A fresh sandbox holds a teammate, an org-visible list, a list shared with the default user, a
protected "Extension Leads" list and one folder, so every `visibility` value, `owner_name`
and the `list_protected` guard can be exercised, and lead ids are reachable from the start.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence

from cleanlist_pipeline.sandbox.meta import DEFAULT_ORG, DEFAULT_USER, TEAMMATE_USER, set_meta

FIRST = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
)
LAST = (
    "Adler",
    "Berg",
    "Chen",
    "Dumas",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
)
TITLES = (
    "VP Sales",
    "Head of Growth",
    "CTO",
    "Account Executive",
    "Founder",
    "Marketing Manager",
    "Data Engineer",
    "COO",
)
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Vandelay",
    "Soylent",
    "Tyrell",
)
PLACES = (
    "Berlin, Berlin, Germany",
    "Austin, Texas, United States",
    "Lyon, Auvergne, France",
    "Toronto, Ontario, Canada",
    "Leeds, England, United Kingdom",
)
PROVIDERS = ("leadmagic", "wiza", "prospeo")

LEAD_COLUMNS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "title",
    "company",
    "location",
    "linkedin_url",
    "provider",
)

BATCH = 50_000


def new_lead_ids(n: int) -> list[str]:
    """``n`` random opaque lead ids (``lead_<20 hex>``), from one urandom call for speed."""
    raw = os.urandom(10 * n).hex()
    return ["lead_" + raw[i * 20 : (i + 1) * 20] for i in range(n)]


def synthetic_rows(start: int, n: int, enriched_fraction: float) -> Iterable[tuple]:
    """Plausible fake people (no real data); every ``1/enriched_fraction``-th one enriched."""
    every = round(1 / enriched_fraction) if enriched_fraction > 0 else 0
    for i in range(start, start + n):
        first = FIRST[i % 20]
        last = LAST[(i // 20) % 20]
        company = COMPANIES[(i // 400) % 10]
        enriched = every > 0 and i % every == 0
        slug = f"{first}-{last}-{i}".lower()
        yield (
            first,
            last,
            f"{first} {last}",
            f"{first}.{last}.{i}@example.com".lower() if enriched else None,
            f"+1555{i % 10_000_000:07d}" if enriched else None,
            TITLES[i % 8],
            company,
            PLACES[i % 5],
            f"https://www.linkedin.com/in/{slug}",
            PROVIDERS[i % 3] if enriched else None,
        )


def insert_leads(c: sqlite3.Connection, org_id: str, rows: Sequence[tuple]) -> list[int]:
    """Insert lead rows (tuples in LEAD_COLUMNS order); returns their rids, in order."""
    start = (c.execute("SELECT COALESCE(MAX(rid), 0) FROM leads").fetchone()[0]) + 1
    ids = new_lead_ids(len(rows))
    c.executemany(
        "INSERT INTO leads (rid, lead_id, org_id, first_name, last_name, full_name, email, phone,"
        " title, company, location, linkedin_url, provider) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(start + k, ids[k], org_id, *row) for k, row in enumerate(rows)],
    )
    return list(range(start, start + len(rows)))


def append_members(
    c: sqlite3.Connection, list_seq: int, rids: Sequence[int], enriched: int
) -> tuple[int, int]:
    """Append rids (not yet in the list) at the end; updates counters. Returns (pos_from, pos_to)."""
    next_pos = c.execute("SELECT next_pos FROM lists WHERE seq=?", (list_seq,)).fetchone()[0]
    c.executemany(
        "INSERT INTO memberships (list_seq, pos, lead_rid) VALUES (?,?,?)",
        [(list_seq, next_pos + k, rid) for k, rid in enumerate(rids)],
    )
    c.execute(
        "UPDATE lists SET next_pos = next_pos + ?, lead_count = lead_count + ?,"
        " enriched_count = enriched_count + ? WHERE seq=?",
        (len(rids), len(rids), enriched, list_seq),
    )
    return next_pos, next_pos + len(rids) - 1


def create_list_row(
    c: sqlite3.Connection,
    *,
    org_id: str,
    owner_id: str,
    name: str,
    now: float,
    description: str | None = None,
    folder_id: str | None = None,
    visibility: str = "private",
    protected: bool = False,
    hidden: bool = False,
) -> tuple[int, str]:
    """Insert a list; returns (seq, list_id)."""
    list_id = str(uuid.uuid4())
    cur = c.execute(
        "INSERT INTO lists (id, org_id, owner_id, name, name_lower, description, folder_id,"
        " created_at, visibility, protected, hidden) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            list_id,
            org_id,
            owner_id,
            name,
            name.lower(),
            description,
            folder_id,
            now,
            visibility,
            int(protected),
            int(hidden),
        ),
    )
    return int(cur.lastrowid or 0), list_id


def seed_synthetic(
    c: sqlite3.Connection, list_seq: int, org_id: str, n: int, enriched_fraction: float = 0.0
) -> None:
    """Fill a list with ``n`` synthetic leads in big executemany batches; counters set once."""
    rid0 = (c.execute("SELECT COALESCE(MAX(rid), 0) FROM leads").fetchone()[0]) + 1
    pos0 = c.execute("SELECT next_pos FROM lists WHERE seq=?", (list_seq,)).fetchone()[0]
    enriched = 0
    done = 0
    while done < n:
        k = min(BATCH, n - done)
        rows = list(synthetic_rows(done, k, enriched_fraction))
        ids = new_lead_ids(k)
        c.executemany(
            "INSERT INTO leads (rid, lead_id, org_id, first_name, last_name, full_name, email,"
            " phone, title, company, location, linkedin_url, provider)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(rid0 + done + j, ids[j], org_id, *rows[j]) for j in range(k)],
        )
        c.executemany(
            "INSERT INTO memberships (list_seq, pos, lead_rid) VALUES (?,?,?)",
            [(list_seq, pos0 + done + j, rid0 + done + j) for j in range(k)],
        )
        enriched += sum(1 for r in rows if r[9] is not None)
        done += k
    c.execute(
        "UPDATE lists SET next_pos = next_pos + ?, lead_count = lead_count + ?,"
        " enriched_count = enriched_count + ? WHERE seq=?",
        (n, n, enriched, list_seq),
    )


def seed_state(c: sqlite3.Connection, now: float) -> dict[str, object]:
    """Create the fixed world of a fresh (or reset) sandbox; stores its ids in meta 'seed'."""
    folder_id = str(uuid.uuid4())
    c.execute(
        "INSERT INTO folders (id, org_id, owner_id, name) VALUES (?,?,?,?)",
        (folder_id, DEFAULT_ORG, DEFAULT_USER, "Outbound"),
    )
    lists: dict[str, str] = {}
    plan = [
        ("Extension Leads", DEFAULT_USER, "private", True, None, 5, None),
        ("Sample Leads", DEFAULT_USER, "private", False, folder_id, 25, None),
        ("Team Prospects", TEAMMATE_USER, "organization", False, None, 20, None),
        ("Shared With You", TEAMMATE_USER, "shared", False, None, 10, DEFAULT_USER),
        ("Teammate Private", TEAMMATE_USER, "private", False, None, 3, None),
    ]
    for k, (name, owner, vis, protected, folder, n, share_with) in enumerate(plan):
        seq, list_id = create_list_row(
            c,
            org_id=DEFAULT_ORG,
            owner_id=owner,
            name=name,
            now=now - 86400 + k,
            folder_id=folder,
            visibility=vis,
            protected=protected,
        )
        if share_with:
            c.execute(
                "INSERT INTO list_shares (list_seq, user_id) VALUES (?, ?)", (seq, share_with)
            )
        seed_synthetic(c, seq, DEFAULT_ORG, n, enriched_fraction=0.2)
        lists[name] = list_id
    info = {
        "org_id": DEFAULT_ORG,
        "user_id": DEFAULT_USER,
        "teammate_user_id": TEAMMATE_USER,
        "folder_id": folder_id,
        "lists": lists,
    }
    set_meta(c, "seed", json.dumps(info))
    return info
