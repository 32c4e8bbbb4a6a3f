"""Client overhead: reading a big list through ``CleanlistClient`` vs a bare ``httpx.Client`` loop.

    .venv/bin/python benchmarks/bench_client.py [--leads 100000] [--runs 5] [--small-calls 300]

Starts a sandbox *process* (rate limits off) with ``cleanlist_pipeline.testing``, seeds one list
through the admin API, then in one process alternates (one warm-up each, then ``--runs`` rounds):

* **client** — ``CleanlistClient.iter_lead_pages(page_size=500)``: shared SQLite rate limiter on
  (at a limit that never binds), stamina retry machinery, typed ``Lead`` models, attempt logging;
* **bare** — ``httpx.Client.get(…/leads?limit=500&cursor=…)`` + ``response.json()`` following the
  cursor: the least a hand-written loop can do.

Medians are compared (target: client ≤ 1.15 × bare). A second table gives the per-call cost of a
small call (``get_list``) both ways. Prints markdown and the command line.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleanlist_pipeline.api import CleanlistClient, RateLimitConfig  # noqa: E402
from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process  # noqa: E402


def read_with_client(client: CleanlistClient, list_id: str) -> tuple[int, int]:
    leads = pages = 0
    for page in client.iter_lead_pages(list_id, page_size=500):
        pages += 1
        leads += len(page.leads)
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
        body = r.json()
        pages += 1
        leads += len(body["leads"])
        cursor = body.get("cursor")
        if not cursor:
            return leads, pages


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


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
        limits = RateLimitConfig(per_key=1_000_000, per_org=1_000_000,
                                 db_path=Path(tmp) / "cleanlist-ratelimit.sqlite")
        client = CleanlistClient(proc.key, sandbox.v2, rate_limit=limits)
        http = sandbox.client("v2")
        try:
            # Warm-up (connections, SQLite pages, imports), then alternate, switching who goes
            # first each round so drift in the sandbox does not favour one side.
            expected = read_bare(http, list_id)
            assert read_with_client(client, list_id) == expected, "both loops must read the same"
            client_s: list[float] = []
            bare_s: list[float] = []
            for i in range(args.runs):
                order = [("client", client), ("bare", http)]
                if i % 2:
                    order.reverse()
                for name, target in order:
                    if name == "client":
                        secs, got = timed(read_with_client, target, list_id)
                        client_s.append(secs)
                    else:
                        secs, got = timed(read_bare, target, list_id)
                        bare_s.append(secs)
                    assert got == expected

            n = args.small_calls
            small_client: list[float] = []
            small_bare: list[float] = []
            for _ in range(n):
                t = time.perf_counter()
                client.get_list(list_id)
                small_client.append(time.perf_counter() - t)
                t = time.perf_counter()
                r = http.get(f"/lead-lists/{list_id}")
                r.raise_for_status()
                r.json()
                small_bare.append(time.perf_counter() - t)
        finally:
            client.close()
            http.close()
            sandbox.close()

    leads, pages = expected
    mc, mb = statistics.median(client_s), statistics.median(bare_s)
    sc, sb = statistics.median(small_client), statistics.median(small_bare)
    print(f"## Client overhead ({leads:,} leads, {pages} pages of 500; seeded in {seed_s:.1f} s)\n")
    print("| loop | median s | min s | max s | leads/s | ratio vs bare |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, xs in (("CleanlistClient.iter_lead_pages", client_s), ("bare httpx loop", bare_s)):
        m = statistics.median(xs)
        print(f"| {name} | {m:.3f} | {min(xs):.3f} | {max(xs):.3f} | {leads / m:,.0f} | "
              f"{m / mb:.3f}× |")
    verdict = "meets" if mc / mb <= 1.15 else "MISSES"
    print(f"\nClient/bare = **{mc / mb:.3f}×** over {args.runs} alternating runs "
          f"({verdict} the ≤ 1.15× target); per page: {(mc - mb) / pages * 1000:+.2f} ms.\n")
    print(f"## Small call (`get_list`), {n} calls each, interleaved\n")
    print("| call | median ms | p90 ms |")
    print("|---|---:|---:|")
    for name, xs in (("CleanlistClient.get_list", small_client), ("bare httpx get + json", small_bare)):
        p90 = statistics.quantiles(xs, n=10)[-1]
        print(f"| {name} | {statistics.median(xs) * 1000:.3f} | {p90 * 1000:.3f} |")
    print(f"\nPer-call overhead of the client (limiter + retry + model): "
          f"**{(sc - sb) * 1e6:.0f} µs** median.\n")
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{platform.system()}; command: `{' '.join([Path(sys.executable).name, *sys.argv])}`")


if __name__ == "__main__":
    main()
