"""Client overhead: reading a big list through ``CleanlistClient`` vs a bare ``httpx.Client`` loop.

    .venv/bin/python benchmarks/bench_client.py [--leads 100000] [--runs 5] [--small-calls 300]

Starts a sandbox *process* (rate limits off) with ``cleanlist_pipeline.testing``, seeds one list
through the admin API, then in one process alternates (one warm-up each, then ``--runs`` rounds):

* **client** — ``CleanlistClient.iter_lead_pages(page_size=500)``: shared SQLite rate limiter on
  (at a limit that never binds), stamina retry machinery, attempt logging, and every lead read as
  a user reads it: a typed ``Lead`` built for each row (``for lead in page.leads``), its
  ``lead_id`` and ``email`` read;
* **bare** — ``httpx.Client.get(…/leads?limit=500&cursor=…)`` decoded with ``orjson`` (the
  fastest decoder a careful user reaches for, and the one the client uses) following the cursor,
  the same two fields read from every row dict: the least a hand-written loop can do.

Both sides touch every lead (issue #12: a loop that only counts ``len(page.leads)`` never pays for
the ``Lead`` objects, and a bare loop on the standard library's ``json`` tilts the comparison
towards the client).

Medians are compared (target: client <= 1.15x bare). A second table gives the per-call cost of a
small call (``get_list``) both ways. Prints markdown and the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleanlist_pipeline.api import CleanlistClient, RateLimitConfig  # noqa: E402
from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process  # noqa: E402


def touch(lead_id: str, email: str | None) -> None:
    """What a user's loop does with a lead, at its cheapest: read two fields."""


def read_with_client(client: CleanlistClient, list_id: str) -> tuple[int, int]:
    leads = pages = 0
    for page in client.iter_lead_pages(list_id, page_size=500):
        pages += 1
        for lead in page.leads:  # a Lead per row, as a user's loop builds them
            leads += 1
            touch(lead.lead_id, lead.email)
    return leads, pages


def read_bare(http: httpx.Client, list_id: str) -> tuple[int, int]:
    leads = pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = http.get(f"/lead-lists/{list_id}/leads", params=params)
        r.raise_for_status()
        body = orjson.loads(r.content)
        pages += 1
        for lead in body["leads"]:
            leads += 1
            touch(lead["lead_id"], lead.get("email"))
        cursor = body.get("cursor")
        if not cursor:
            return leads, pages


def timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    """Wall seconds, this process's CPU seconds (the client's own cost, without the server's)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--small-calls", type=int, default=300)
    args = ap.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    with start_sandbox_process(rpm_key=0, rpm_org=0) as proc, tempfile.TemporaryDirectory() as tmp:
        sandbox = SandboxHandle(proc.origin, proc.key)
        t0 = time.perf_counter()
        list_id = sandbox.seed_list("bench", args.leads)
        seed_s = time.perf_counter() - t0
        limits = RateLimitConfig(
            per_key=1_000_000, per_org=1_000_000, db_path=Path(tmp) / "cleanlist-ratelimit.sqlite"
        )
        client = CleanlistClient(proc.key, sandbox.v2, rate_limit=limits)
        http = sandbox.client("v2")
        try:
            # Warm-up (connections, SQLite pages, imports), then alternate, switching who goes
            # first each round so drift in the sandbox does not favour one side.
            expected = read_bare(http, list_id)
            assert read_with_client(client, list_id) == expected, "both loops must read the same"
            client_s: list[float] = []
            bare_s: list[float] = []
            client_cpu: list[float] = []
            bare_cpu: list[float] = []
            for i in range(args.runs):
                order = [("client", client), ("bare", http)]
                if i % 2:
                    order.reverse()
                for name, target in order:
                    if name == "client":
                        secs, cpu, got = timed(read_with_client, target, list_id)
                        client_s.append(secs)
                        client_cpu.append(cpu)
                    else:
                        secs, cpu, got = timed(read_bare, target, list_id)
                        bare_s.append(secs)
                        bare_cpu.append(cpu)
                    assert got == expected

            n = args.small_calls
            small_client: list[float] = []
            small_bare: list[float] = []
            small_client_cpu = small_bare_cpu = 0.0
            for _ in range(n):
                t, c = time.perf_counter(), time.process_time()
                client.get_list(list_id)
                small_client.append(time.perf_counter() - t)
                small_client_cpu += time.process_time() - c
                t, c = time.perf_counter(), time.process_time()
                r = http.get(f"/lead-lists/{list_id}")
                r.raise_for_status()
                orjson.loads(r.content)
                small_bare.append(time.perf_counter() - t)
                small_bare_cpu += time.process_time() - c
        finally:
            client.close()
            http.close()
            sandbox.close()

    leads, pages = expected
    mc, mb = statistics.median(client_s), statistics.median(bare_s)
    sc, sb = statistics.median(small_client), statistics.median(small_bare)
    print(f"## Client overhead ({leads:,} leads, {pages} pages of 500; seeded in {seed_s:.1f} s)\n")
    print("| loop | median s | min s | max s | leads/s | ratio vs bare | client-process CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = (
        ("CleanlistClient.iter_lead_pages", client_s, client_cpu),
        ("bare httpx + orjson loop", bare_s, bare_cpu),
    )
    for name, xs, cpu in rows:
        m = statistics.median(xs)
        print(
            f"| {name} | {m:.3f} | {min(xs):.3f} | {max(xs):.3f} | {leads / m:,.0f} | "
            f"{m / mb:.3f}x | {statistics.median(cpu):.3f} |"
        )
    cpu_ratio = statistics.median(client_cpu) / statistics.median(bare_cpu)
    paired = statistics.median(c / b for c, b in zip(client_s, bare_s, strict=True))
    verdict = "meets" if mc / mb <= 1.15 else "MISSES"
    print(
        f"\nClient/bare = **{mc / mb:.3f}x** (ratio of medians) over {args.runs} alternating "
        f"runs ({verdict} the <= 1.15x target); median of per-round ratios {paired:.3f}x, "
        f"ratio of best runs {min(client_s) / min(bare_s):.3f}x; "
        f"per page: {(mc - mb) / pages * 1000:+.2f} ms. CPU of this process (client side "
        f"only, less sensitive to a busy machine): {cpu_ratio:.3f}x.\n"
    )
    print(f"## Small call (`get_list`), {n} calls each, interleaved\n")
    print("| call | median ms | p90 ms | client-process CPU µs/call |")
    print("|---|---:|---:|---:|")
    for name, xs, cpu in (
        ("CleanlistClient.get_list", small_client, small_client_cpu),
        ("bare httpx get + orjson", small_bare, small_bare_cpu),
    ):
        p90 = statistics.quantiles(xs, n=10)[-1]
        print(
            f"| {name} | {statistics.median(xs) * 1000:.3f} | {p90 * 1000:.3f} | "
            f"{cpu / n * 1e6:.0f} |"
        )
    print(
        f"\nPer-call overhead of the client (limiter + retry + model): "
        f"**{(sc - sb) * 1e6:.0f} µs** median wall, "
        f"**{(small_client_cpu - small_bare_cpu) / n * 1e6:.0f} µs** CPU.\n"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end; "
        f"command: `{' '.join(['.venv/bin/python', *sys.argv])}`"
    )


if __name__ == "__main__":
    main()
