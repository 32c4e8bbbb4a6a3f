"""Sandbox throughput: seeding 1,000,000 leads, serving them as 500-lead pages, settling them.

Starts a real sandbox process (rate limits off), seeds one list through the admin API, then walks
the whole list with a bare httpx loop (one connection, ``r.json()`` per page to read the cursor)
and prints a markdown table. Also compares the latency of the first and the last pages, since
keyset pagination should make page 2000 cost what page 1 costs.

Then it enriches the whole list (``POST /enrichment/bulk``, scope ``full``: the most writes),
moves the sandbox clock past the due time and times the first request afterwards — the one that
settles the workflow — against an ordinary request, and re-reads pages over the settled results.

    .venv/bin/python benchmarks/bench_sandbox.py [--leads 1000000] [--page-size 500]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process


def walk(
    client: httpx.Client, list_id: str, page_size: int, max_pages: int | None = None
) -> tuple[int, int, float, list[float]]:
    """Read every page (or the first ``max_pages``); returns (leads, pages, seconds, per-page
    seconds)."""
    cursor: str | None = None
    leads = pages = 0
    lat: list[float] = []
    t0 = time.perf_counter()
    while max_pages is None or pages < max_pages:
        params: dict[str, str | int] = {"limit": page_size}
        if cursor:
            params["cursor"] = cursor
        t = time.perf_counter()
        r = client.get(f"/lead-lists/{list_id}/leads", params=params)
        r.raise_for_status()
        body = r.json()
        lat.append(time.perf_counter() - t)
        leads += len(body["leads"])
        pages += 1
        cursor = body["cursor"]
        if not cursor:
            break
    return leads, pages, time.perf_counter() - t0, lat


def timed_get(client: httpx.Client, path: str) -> tuple[float, dict]:
    """(seconds, JSON body) of one GET."""
    t = time.perf_counter()
    r = client.get(path)
    r.raise_for_status()
    return time.perf_counter() - t, r.json()


def settle(
    handle: SandboxHandle, client: httpx.Client, list_id: str, leads: int, page_size: int
) -> list[tuple[str, str]]:
    """Dispatch a bulk enrichment of the whole list, then time the request that settles it."""
    handle.settings(credits=12 * leads, enrich_seconds=5.0)
    quote = client.post(
        "/credits/estimate", json={"tool": "enrich_list", "list_id": list_id, "scope": "full"}
    )
    quote.raise_for_status()
    t = time.perf_counter()
    r = client.post(
        "/enrichment/bulk",
        json={"list_id": list_id, "scope": "full", "quote_id": quote.json()["quote_id"]},
    )
    r.raise_for_status()
    dispatch = time.perf_counter() - t
    wf = r.json()["workflow_id"]
    ordinary = statistics.median(timed_get(client, "/whoami")[0] for _ in range(5))
    handle.advance_clock(6)
    settling, _ = timed_get(client, "/whoami")
    after = statistics.median(timed_get(client, "/whoami")[0] for _ in range(5))
    _, status = timed_get(client, f"/enrichment/status/{wf}")
    assert status["status"] == "completed", status
    detail = client.get(f"/lead-lists/{list_id}").json()
    _, pages, _, lat = walk(client, list_id, page_size, max_pages=200)
    found = status["summary"]
    return [
        ("bulk enrichment dispatch (full, whole list)", f"{dispatch * 1000:.0f} ms"),
        ("ordinary request before settlement (median)", f"{ordinary * 1000:.2f} ms"),
        (f"request that settles {leads:,} leads", f"{settling:.2f} s"),
        ("ordinary request after settlement (median)", f"{after * 1000:.2f} ms"),
        ("found (e-mails / phones)", f"{found['emails_found']:,} / {found['phones_found']:,}"),
        ("credits charged", f"{status['credits_charged']:,}"),
        ("enriched_count after settlement", f"{detail['enriched_count']:,}"),
        (
            f"median page latency after settlement ({pages} pages)",
            f"{statistics.median(lat) * 1000:.2f} ms",
        ),
    ]


def main() -> None:
    """Run the benchmark and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--page-size", type=int, default=500)
    args = ap.parse_args()
    with start_sandbox_process(rpm_key=0, rpm_org=0) as proc:
        handle = SandboxHandle(proc.origin, proc.key)
        t0 = time.perf_counter()
        r = handle.admin.post(
            "/seed-list",
            json={"name": "Bench", "leads": args.leads, "enriched_fraction": 0.3},
            timeout=600,
        )
        r.raise_for_status()
        seed_wall = time.perf_counter() - t0
        seed = r.json()
        with handle.client() as client:
            client.get("/whoami").raise_for_status()
            leads, pages, secs, lat = walk(client, seed["list_id"], args.page_size)
            settled = settle(handle, client, seed["list_id"], args.leads, args.page_size)
        handle.close()
    assert leads == args.leads, (leads, args.leads)
    first = statistics.median(lat[:20]) * 1000
    last = statistics.median(lat[-20:]) * 1000
    rows = [
        ("leads seeded", f"{args.leads:,}"),
        ("seed time (server-side)", f"{seed['seconds']:.1f} s"),
        ("seed time (wall, incl. HTTP)", f"{seed_wall:.1f} s"),
        ("seed rate", f"{args.leads / seed['seconds']:,.0f} leads/s"),
        ("pages read", f"{pages:,} x {args.page_size}"),
        ("page walk time", f"{secs:.1f} s"),
        ("page throughput", f"{leads / secs:,.0f} leads/s"),
        ("median page latency, first 20 pages", f"{first:.2f} ms"),
        ("median page latency, last 20 pages", f"{last:.2f} ms"),
        ("p95 page latency", f"{statistics.quantiles(lat, n=20)[18] * 1000:.2f} ms"),
        *settled,
    ]
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
