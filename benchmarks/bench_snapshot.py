"""Snapshot end to end, as a user runs it, against a bare httpx + orjson loop.

A sandbox *process* (rate limits off) serves lists seeded through the admin API (100,000 and
1,000,000 leads by default). For each list the benchmark alternates two child *processes*, both
timed from the outside (process start, imports and exit included) in the order A B B A …:

* ``bare``: ``python -c``-style child running a bare ``httpx.Client`` loop that fetches every page
  of the list (500 leads a request, following the cursor), decodes each body with ``orjson`` and
  throws it away — the fastest a careful user's own script gets;
* ``cli``: ``cleanlist-pipeline snapshot --list-id … --data-dir …`` — the installed command, with
  the API key and base URL in the environment and ``CLEANLIST_RATE_LIMIT_PER_KEY=0`` (the
  sandbox's limits are off and the bare loop has no limiter either).

The ratio is bare seconds ÷ snapshot seconds per pair; the median over ``--runs`` pairs is
judged (≥ 0.85 at 1,000,000 leads). "in-step" compares the two loops without process start:
the bare child's own loop time against the command's own figure (``-v`` prints it). Peak RSS is
each child's ``ru_maxrss`` (``os.wait4``), shown next to an idle Dagster process that does a
trivial ``dg.materialize`` (``--child dagster-idle``), so the connector's own share is visible.
Each written file is read back: row count, no duplicate ``lead_id``, typed schema, compressed.

    .venv/bin/python benchmarks/bench_snapshot.py [--sizes 100000,1000000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATIO_TARGET = 0.85
RATIO_TARGET_LEADS = 1_000_000  # the list size the ratio target is set for
RSS_TARGET_MB = 200.0
FLAT_TOLERANCE = 0.15  # peak RSS at the largest size within 15 % of the smallest
PAGE_SIZE = 500
CLI = Path(sys.executable).parent / "cleanlist-pipeline"


def child_bare(origin: str, key: str, list_id: str) -> None:
    """Fetch every page with plain httpx, decode it with orjson, throw it away."""
    started = time.perf_counter()
    import httpx
    import orjson

    leads = 0
    with httpx.Client(
        base_url=f"{origin}/api/v2", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        loop_started = time.perf_counter()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            response = client.get(f"/lead-lists/{list_id}/leads", params=params)
            response.raise_for_status()
            body = orjson.loads(response.content)
            leads += len(body["leads"])
            cursor = body.get("cursor")
            if not cursor:
                break
        ended = time.perf_counter()
    print(json.dumps({"leads": leads, "loop_s": ended - loop_started, "own_s": ended - started}))


def child_dagster_idle(tmp: str) -> None:
    """An idle Dagster process: import Dagster, materialize one trivial asset."""
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    @dg.asset
    def trivial() -> int:
        return 1

    with dg.instance_for_test(temp_dir=tmp) as instance:
        assert dg.materialize([trivial], instance=instance).success
    print(json.dumps({"ok": True}))


# A child's ru_maxrss counts the memory of the process it was forked from, so children are
# forked from this tiny launcher (no imports, ~9 MB) rather than from the benchmark process.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execve(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
sys.stderr.write(f"\\nLAUNCHER {os.waitstatus_to_exitcode(status)} {seconds} {usage.ru_maxrss}\\n")
"""


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, str]:
    """(wall seconds, peak RSS MB, stdout, stderr) of one child process: from fork to exit,
    so process start, imports and exit are included."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *cmd], capture_output=True, text=True, env=env
    )
    stderr, _, last = done.stderr.rpartition("LAUNCHER ")
    code, seconds, maxrss = last.split()
    if int(code) != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({code}):\n{stderr[-3000:]}")
    return float(seconds), int(maxrss) / 1024.0, done.stdout, stderr


def run_bare(origin: str, key: str, list_id: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "bare", "--origin", origin, "--key", key,
           "--list-id", list_id]  # fmt: skip
    seconds, rss, stdout, _ = _timed(cmd)
    own = json.loads(stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "loop_s": own["loop_s"], "leads": own["leads"], "rss_mb": rss}


def run_cli(origin: str, key: str, list_id: str, data_dir: str, home: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env.update(
        CLEANLIST_API_KEY=key,
        CLEANLIST_BASE_URL=f"{origin}/api/v2",
        CLEANLIST_RATE_LIMIT_PER_KEY="0",
        DAGSTER_HOME=home,
    )
    cmd = [str(CLI), "snapshot", "--list-id", list_id, "--data-dir", data_dir, "-v"]
    seconds, rss, stdout, stderr = _timed(cmd, env)
    found = re.search(r"written in ([0-9.]+) s", stderr)
    return {
        "seconds": seconds,
        "loop_s": float(found.group(1)) if found else seconds,
        "path": stdout.strip().splitlines()[-1],
        "rss_mb": rss,
    }


def check_file(path: str, leads: int) -> dict[str, Any]:
    """The file a user gets: every lead once, typed columns, compressed."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    ids = pq.read_table(path, columns=["lead_id"]).column("lead_id")
    unique = pc.count_distinct(ids).as_py()
    codecs = {meta.row_group(0).column(i).compression for i in range(meta.num_columns)}
    schema = pq.read_schema(path)
    if meta.num_rows != leads or unique != leads:
        raise RuntimeError(f"{path}: {meta.num_rows} rows, {unique} distinct ids, want {leads}")
    if str(schema.field("snapshot_at").type) != "timestamp[us, tz=UTC]" or "UNCOMPRESSED" in codecs:
        raise RuntimeError(f"{path}: schema or compression not as written by the storage layer")
    return {
        "row_groups": meta.num_row_groups,
        "codecs": sorted(codecs),
        "bytes": os.path.getsize(path),
    }


def _seed(origin: str, key: str, name: str, leads: int) -> str:
    from cleanlist_pipeline.testing import SandboxHandle

    started = time.perf_counter()
    handle = SandboxHandle(origin, key)
    try:
        list_id = handle.seed_list(name, leads, enriched_fraction=0.5)
    finally:
        handle.close()
    print(f"seeded {name}: {leads:,} leads in {time.perf_counter() - started:.1f} s", flush=True)
    return list_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated list sizes")
    parser.add_argument("--runs", type=int, default=5, help="alternating pairs per size (≥ 5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--child", choices=["bare", "dagster-idle"], help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--list-id", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "bare":
        child_bare(args.origin, args.key, args.list_id)
        return 0
    if args.child == "dagster-idle":
        child_dagster_idle(args.tmp)
        return 0

    from cleanlist_pipeline.testing import start_sandbox_process

    sizes = [int(s) for s in args.sizes.split(",") if s]
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp,
        start_sandbox_process(rpm_key=0, rpm_org=0) as sandbox,
    ):
        _, idle_rss, _, _ = _timed(
            [sys.executable, __file__, "--child", "dagster-idle", "--tmp", tmp]
        )
        print(f"idle Dagster process (trivial dg.materialize): peak RSS {idle_rss:.0f} MB")
        lists = {n: _seed(sandbox.origin, sandbox.key, f"bench {n}", n) for n in sizes}
        home = os.path.join(tmp, "dagster_home")
        os.makedirs(home)
        for n, list_id in lists.items():
            pairs = []
            for run in range(args.runs):
                order = ("bare", "cli") if run % 2 == 0 else ("cli", "bare")
                got: dict[str, dict[str, Any]] = {}
                for mode in order:
                    if mode == "bare":
                        got[mode] = run_bare(sandbox.origin, sandbox.key, list_id)
                    else:
                        got[mode] = run_cli(sandbox.origin, sandbox.key, list_id, tmp, home)
                base, snap = got["bare"], got["cli"]
                if base["leads"] != n:
                    raise RuntimeError(f"bare loop read {base['leads']} leads, want {n}")
                snap["file"] = check_file(snap["path"], n)
                pair = {
                    "bare": base,
                    "cli": snap,
                    "ratio": base["seconds"] / snap["seconds"],
                    "step_ratio": base["loop_s"] / snap["loop_s"],
                    "load": os.getloadavg()[0],
                }
                pairs.append(pair)
                print(
                    f"  {n:>9,} leads run {run + 1}: bare {base['seconds']:6.2f} s, "
                    f"snapshot {snap['seconds']:6.2f} s, ratio {pair['ratio']:.3f} "
                    f"(in-step {pair['step_ratio']:.3f}), RSS {snap['rss_mb']:.0f} MB "
                    f"(bare {base['rss_mb']:.0f} MB), load {pair['load']:.1f}",
                    flush=True,
                )
            results.append(
                {
                    "leads": n,
                    "median_ratio": statistics.median(p["ratio"] for p in pairs),
                    "median_step_ratio": statistics.median(p["step_ratio"] for p in pairs),
                    "median_bare_s": statistics.median(p["bare"]["seconds"] for p in pairs),
                    "median_cli_s": statistics.median(p["cli"]["seconds"] for p in pairs),
                    "max_peak_rss_mb": max(p["cli"]["rss_mb"] for p in pairs),
                    "bare_rss_mb": max(p["bare"]["rss_mb"] for p in pairs),
                    "loads": [round(p["load"], 1) for p in pairs],
                    "file": pairs[-1]["cli"]["file"],
                }
            )
    print()
    print(
        f"{'leads':>10} {'bare s':>7} {'snapshot s':>10} {'ratio':>6} {'in-step':>8} "
        f"{'peak RSS':>9} {'bare RSS':>9}  load"
    )
    for r in results:
        print(
            f"{r['leads']:>10,} {r['median_bare_s']:>7.2f} {r['median_cli_s']:>10.2f} "
            f"{r['median_ratio']:>6.3f} {r['median_step_ratio']:>8.3f} "
            f"{r['max_peak_rss_mb']:>6.0f} MB {r['bare_rss_mb']:>6.0f} MB  "
            f"{min(r['loads'])}-{max(r['loads'])}"
        )
    print(f"idle Dagster process doing a trivial materialization: {idle_rss:.0f} MB peak RSS")
    judged = [r for r in results if r["leads"] >= RATIO_TARGET_LEADS] or results
    ratio_ok = all(r["median_ratio"] >= RATIO_TARGET for r in judged)
    rss = [r["max_peak_rss_mb"] for r in results]
    rss_ok = all(x <= RSS_TARGET_MB for x in rss)
    flat = max(rss) <= (1 + FLAT_TOLERANCE) * min(rss) if rss else True
    sizes_judged = ", ".join(f"{r['leads']:,}" for r in judged)
    print(
        f"ratio ≥ {RATIO_TARGET} (median, at {sizes_judged} leads): {'yes' if ratio_ok else 'NO'}; "
        f"peak RSS ≤ {RSS_TARGET_MB:.0f} MB: {'yes' if rss_ok else 'NO'}; "
        f"flat across sizes (within {FLAT_TOLERANCE:.0%}): {'yes' if flat else 'NO'}"
    )
    if args.json:
        print(json.dumps({"results": results, "idle_dagster_rss_mb": idle_rss}, indent=2))
    return 0 if ratio_ok and rss_ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
