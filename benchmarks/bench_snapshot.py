"""Snapshot throughput and memory: ``leads_snapshot`` against a bare httpx loop.

A sandbox *process* serves lists seeded through ``POST /_sandbox/seed-list`` (100,000 and
1,000,000 leads by default). For each list the benchmark alternates two child processes:

* ``httpx``: a bare ``httpx.Client`` loop fetching the same pages (500 per request, following the
  cursor) and discarding them — the ceiling for any client;
* ``snapshot``: the real ``leads_snapshot`` asset materialized with Dagster (``dg.materialize``),
  which pages through ``CleanlistClient.iter_lead_pages`` with a prefetch thread and streams
  into Parquet through the storage layer.

Each child times its own work (imports excluded; for the snapshot the whole ``dg.materialize``,
and separately the step's own time from its ``seconds`` metadata) and reports its peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``). The ratio is snapshot leads/s ÷ httpx leads/s per
alternating pair; the median of ``--runs`` pairs is reported. Targets: ratio ≥ 0.75 at
1,000,000 leads (smaller sizes are reported, not judged); peak RSS ≤ 300 MB and flat from 100,000
to 1,000,000 leads.

    .venv/bin/python benchmarks/bench_snapshot.py [--sizes 100000,1000000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

RATIO_TARGET = 0.75
RATIO_TARGET_LEADS = 1_000_000  # the list size the ratio target is set for
RSS_TARGET_MB = 300.0
PAGE_SIZE = 500


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child_httpx(origin: str, key: str, list_id: str) -> dict[str, Any]:
    """Fetch every page with plain httpx and throw it away."""
    import httpx

    leads = 0
    with httpx.Client(
        base_url=f"{origin}/api/v2", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        started = time.perf_counter()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            response = client.get(f"/lead-lists/{list_id}/leads", params=params)
            response.raise_for_status()
            body = response.json()
            leads += len(body["leads"])
            cursor = body.get("cursor")
            if not cursor:
                break
        seconds = time.perf_counter() - started
    return {"leads": leads, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def child_snapshot(origin: str, key: str, list_id: str, data_dir: str) -> dict[str, Any]:
    """Materialize the real ``leads_snapshot`` asset for one list."""
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
    from cleanlist_pipeline.dagster_layer.snapshots import (
        LISTS_PARTITIONS,
        SNAPSHOT_IO_MANAGER_KEY,
        LeadsSnapshotIOManager,
        build_snapshot_asset,
    )

    asset = build_snapshot_asset(data_dir, embedded=False)
    resources = {
        # The sandbox runs with its rate limits off and so does the client here: with the
        # documented 30 requests/min the limiter, not the code, would set the pace (15,000
        # leads/min), and the httpx loop it is compared with has no limiter either.
        "cleanlist": CleanlistResource(
            api_key=key, base_url=f"{origin}/api/v2", rate_limit_per_key=0
        ),
        SNAPSHOT_IO_MANAGER_KEY: LeadsSnapshotIOManager(data_dir=data_dir),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(LISTS_PARTITIONS.name, [list_id])
        started = time.perf_counter()
        result = dg.materialize(
            [asset],
            partition_key=list_id,
            instance=instance,
            resources=resources,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        seconds = time.perf_counter() - started
    meta = result.asset_materializations_for_node("leads_snapshot")[0].metadata
    return {
        "leads": meta["dagster/row_count"].value,
        "seconds": seconds,
        "asset_seconds": meta["seconds"].value,  # inside the step, without run setup
        "bytes": meta["file_size_bytes"].value,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_child(mode: str, origin: str, key: str, list_id: str, data_dir: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--origin",
        origin,
        "--key",
        key,
        "--list-id",
        list_id,
        "--data-dir",
        data_dir,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _seed(admin_origin: str, name: str, leads: int) -> str:
    import httpx

    started = time.perf_counter()
    response = httpx.post(
        f"{admin_origin}/_sandbox/seed-list",
        json={"name": name, "leads": leads, "enriched_fraction": 0.5},
        timeout=1800,
    )
    response.raise_for_status()
    body = response.json()
    print(
        f"seeded {name}: {body['leads']:,} leads in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return str(body["list_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated list sizes")
    parser.add_argument("--runs", type=int, default=5, help="alternating pairs per size (≥ 5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--child", choices=["httpx", "snapshot"], help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--list-id", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "httpx":
        print(json.dumps(child_httpx(args.origin, args.key, args.list_id)))
        return 0
    if args.child == "snapshot":
        print(json.dumps(child_snapshot(args.origin, args.key, args.list_id, args.data_dir)))
        return 0

    from cleanlist_pipeline.testing import start_sandbox_process

    sizes = [int(s) for s in args.sizes.split(",") if s]
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp,
        start_sandbox_process(rpm_key=0, rpm_org=0) as sandbox,
    ):
        lists = {n: _seed(sandbox.origin, f"bench {n}", n) for n in sizes}
        for n, list_id in lists.items():
            pairs = []
            for run in range(args.runs):
                base = _run_child("httpx", sandbox.origin, sandbox.key, list_id, tmp)
                snap = _run_child("snapshot", sandbox.origin, sandbox.key, list_id, tmp)
                if snap["leads"] != n or base["leads"] != n:
                    raise RuntimeError(f"expected {n} leads, got {snap['leads']}/{base['leads']}")
                ratio = base["seconds"] / snap["seconds"]
                step_ratio = base["seconds"] / snap["asset_seconds"]
                pairs.append(
                    {"httpx": base, "snapshot": snap, "ratio": ratio, "step_ratio": step_ratio}
                )
                print(
                    f"  {n:>9,} leads run {run + 1}: httpx {n / base['seconds']:>9,.0f} leads/s, "
                    f"snapshot {n / snap['seconds']:>9,.0f} leads/s, ratio {ratio:.3f} "
                    f"(in-step {step_ratio:.3f}), snapshot peak RSS {snap['peak_rss_mb']:.0f} MB, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            results.append(
                {
                    "leads": n,
                    "median_ratio": statistics.median(p["ratio"] for p in pairs),
                    "median_step_ratio": statistics.median(p["step_ratio"] for p in pairs),
                    "median_httpx_leads_per_s": statistics.median(
                        n / p["httpx"]["seconds"] for p in pairs
                    ),
                    "median_snapshot_leads_per_s": statistics.median(
                        n / p["snapshot"]["seconds"] for p in pairs
                    ),
                    "max_peak_rss_mb": max(p["snapshot"]["peak_rss_mb"] for p in pairs),
                    "parquet_bytes": pairs[-1]["snapshot"]["bytes"],
                }
            )
    print()
    print(
        f"{'leads':>10} {'httpx/s':>10} {'snapshot/s':>11} {'ratio':>7} {'in-step':>8} "
        f"{'peak RSS':>9}"
    )
    for r in results:
        print(
            f"{r['leads']:>10,} {r['median_httpx_leads_per_s']:>10,.0f} "
            f"{r['median_snapshot_leads_per_s']:>11,.0f} {r['median_ratio']:>7.3f} "
            f"{r['median_step_ratio']:>8.3f} {r['max_peak_rss_mb']:>7.0f} MB"
        )
    # The issue sets the ratio target on a 1,000,000-lead list; smaller lists are shown for the
    # RSS comparison (at 100,000 leads Dagster's ~1 s of run setup dominates the ratio).
    judged = [r for r in results if r["leads"] >= RATIO_TARGET_LEADS] or results
    ratio_ok = all(r["median_ratio"] >= RATIO_TARGET for r in judged)
    rss_ok = all(r["max_peak_rss_mb"] <= RSS_TARGET_MB for r in results)
    rss = [r["max_peak_rss_mb"] for r in results]
    flat = max(rss) - min(rss) <= 0.25 * min(rss) if rss else True
    sizes_judged = ", ".join(f"{r['leads']:,}" for r in judged)
    print(
        f"ratio ≥ {RATIO_TARGET} (at {sizes_judged} leads): {'yes' if ratio_ok else 'NO'}; peak RSS ≤ {RSS_TARGET_MB:.0f} "
        f"MB: {'yes' if rss_ok else 'NO'}; flat across sizes (±25 %): {'yes' if flat else 'NO'}"
    )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if ratio_ok and rss_ok and flat else 1


if __name__ == "__main__":
    os.environ.pop("CLEANLIST_API_KEY", None)
    sys.exit(main())
