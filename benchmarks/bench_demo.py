"""Wall time of ``make demo`` on a fresh Dagster instance (target ≤ 3 minutes).

Runs ``make demo`` (or, with ``--direct``, the ``cleanlist-pipeline demo`` command it runs) with
a new, empty ``DAGSTER_HOME`` and data folder, so the sandbox database, the import ledger and the
sensor cursor all start from nothing — what a fresh clone sees once ``.venv`` exists. Creating
``.venv`` itself (pip downloads) is not timed: it depends on the network, not on this project.

    .venv/bin/python benchmarks/bench_demo.py [--runs 1] [--direct] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 180.0
REPO = Path(__file__).resolve().parents[1]


def run_once(direct: bool) -> dict[str, object]:
    """One demo on a fresh instance; its wall time, exit status and last output lines."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(Path(tmp) / "dagster_home"),
            "CLEANLIST_DATA_DIR": str(Path(tmp) / "data"),
        }
        env.pop("CLEANLIST_API_KEY", None)
        env.pop("CLEANLIST_BASE_URL", None)
        Path(env["DAGSTER_HOME"]).mkdir()
        cmd = (
            [str(REPO / ".venv" / "bin" / "cleanlist-pipeline"), "demo"]
            if direct
            else ["make", "--no-print-directory", "demo"]
        )
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    tail = done.stdout.strip().splitlines()[-3:]
    return {"seconds": seconds, "exit_code": done.returncode, "tail": tail, "stderr": done.stderr}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--direct", action="store_true", help="run the CLI, not `make demo`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = []
    for number in range(args.runs):
        result = run_once(args.direct)
        runs.append(result)
        print(
            f"run {number + 1}: {result['seconds']:.1f} s, exit {result['exit_code']}: "
            + " | ".join(result["tail"]),  # type: ignore[arg-type]
            flush=True,
        )
        if result["exit_code"] != 0:
            print(str(result["stderr"])[-3000:], file=sys.stderr)
    median = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    ok = median <= TARGET_SECONDS and all(r["exit_code"] == 0 for r in runs)
    print(
        f"make demo (fresh instance): median {median:.1f} s over {len(runs)} run(s); "
        f"target ≤ {TARGET_SECONDS:.0f} s: {'yes' if ok else 'NO'}"
    )
    if args.json:
        print(json.dumps({"median_seconds": median, "runs": runs}, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
