"""Split + dedupe + encode throughput on a large drop, against what a user would write.

    .venv/bin/python benchmarks/bench_split.py [--size-mb 200] [--runs 5]

Generates ``benchmarks/.work/large-<N>mb.csv`` with ``sample_data/generate.py`` if missing, then
times three ways of turning it into base64 upload bodies, each in its own subprocess (peak RSS via
``os.wait4``), one warm-up each, then ``--runs`` rounds in rotating order; medians are reported.

* ``cleanlist_pipeline.ingest``: ``plan_file`` (encoding pre-pass, whole-file dedupe, packing,
  sha256 of the file and of every chunk) then ``read_chunk`` (digest-verified) + base64 per chunk
  with the encoder the connector's CSV-import body uses (``cleanlist_pipeline.b64``:
  pybase64) — in one process (``ingest``, the default) and with two scan worker processes
  (``ingest-2proc``, opt-in);
* pandas: ``read_csv(chunksize=600)`` → ``to_csv`` → stdlib base64 (no dedupe, no byte cap);
* pyarrow, streaming (``pyarrow-stream``, the baseline ingest is judged beside): the file read
  block by block with ``csv.open_csv(newlines_in_values=True)``, every column as a string, each
  block cut into 600-row batches → ``write_csv`` → stdlib base64 — memory bounded like ingest's;
* pyarrow, whole file (``pyarrow-full``, a separate labelled line only): ``csv.read_csv`` of the
  whole file first, then the same batches — faster on 2 cores, but its memory grows with the file,
  so it is not the streaming comparison (issue #12).

Target: ingest ≥ 4x pandas (median wall).

Prints a markdown table, the packing figures and the command line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
MODES = ("ingest", "ingest-2proc", "pandas", "pyarrow-stream", "pyarrow-full")
TARGET_VS_PANDAS = 4.0
LABELS = {
    "ingest": "ingest (default, one process)",
    "ingest-2proc": "ingest, 2 scan workers (opt-in)",
    "pandas": "pandas `read_csv(chunksize=600)` + `to_csv` + base64",
    "pyarrow-stream": "pyarrow `open_csv` streaming + `write_csv` + base64",
    "pyarrow-full": "pyarrow `read_csv` whole file (not streaming; for reference)",
}


def child(mode: str, path: str) -> dict[str, object]:
    import base64

    t0 = time.perf_counter()
    out: dict[str, object] = {}
    if mode.startswith("ingest"):
        import resource

        from cleanlist_pipeline.b64 import b64encode  # what the connector's request body uses
        from cleanlist_pipeline.ingest import plan_file, read_chunk

        plan = plan_file(path, workers=1 if mode == "ingest" else 2)
        # spawned scan workers (if any) are our children: report their peak RSS too
        out["worker_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t_plan = time.perf_counter() - t0
        encoded = 0
        for c in plan.chunks:
            encoded += len(b64encode(read_chunk(path, plan, c)))
        header = len(plan.header_bytes)
        data_bytes = sum(c.size - header for c in plan.chunks)
        cap = plan.max_bytes - header
        bound = math.ceil(max(data_bytes / cap, plan.rows_planned / plan.max_rows))
        out |= {
            "chunks": len(plan.chunks),
            "lower_bound": bound,
            "rows": plan.rows_planned,
            "removed": len(plan.removed_duplicates),
            "plan_seconds": t_plan,
            "encoded": encoded,
            "max_chunk": max(c.size for c in plan.chunks),
            "max_bytes": plan.max_bytes,
        }
    elif mode == "pandas":
        import pandas as pd

        encoded = chunks = 0
        for df in pd.read_csv(path, chunksize=600, dtype=str, keep_default_na=False):
            encoded += len(base64.b64encode(df.to_csv(index=False).encode("utf-8")))
            chunks += 1
        out = {"chunks": chunks, "encoded": encoded}
    elif mode == "pyarrow-full":
        import io

        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        encoded = chunks = 0
        for batch in table.to_batches(max_chunksize=600):
            sink = io.BytesIO()
            pacsv.write_csv(batch, sink)
            encoded += len(base64.b64encode(sink.getvalue()))
            chunks += 1
        out = {"chunks": chunks, "encoded": encoded}
    elif mode == "pyarrow-stream":
        import csv
        import io

        import pyarrow as pa
        import pyarrow.csv as pacsv

        with open(path, newline="", encoding="utf-8") as f:
            names = next(csv.reader(f))
        # Strings throughout: a streaming reader infers types from its first block and fails
        # on a later block that disagrees; the upload is text anyway.
        reader = pacsv.open_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
        encoded = chunks = 0
        for block in reader:
            for start in range(0, block.num_rows, 600):
                sink = io.BytesIO()
                pacsv.write_csv(block.slice(start, 600), sink)
                encoded += len(base64.b64encode(sink.getvalue()))
                chunks += 1
        out = {"chunks": chunks, "encoded": encoded}
    out["seconds"] = time.perf_counter() - t0
    return out


# A child's ru_maxrss counts the memory of the process it was forked from (this one holds the
# whole generated file's rows while generating it), so children are forked from a tiny launcher
# that imports nothing (~5 MB) and reports their rusage.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"LAUNCHER {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {cpu}\\n")
"""


def run(mode: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, sys.executable, __file__, "--child", mode,
         str(path)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    code, maxrss, cpu = done.stderr.rpartition("LAUNCHER ")[2].split()
    if int(code):
        raise SystemExit(f"{mode} run failed with exit code {code}:\n{done.stderr[-2000:]}")
    res = json.loads(done.stdout)
    res["rss_mb"] = int(maxrss) / 1024  # Linux: KiB
    res["cpu"] = float(cpu)  # includes its own children once reaped
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=200.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--file", type=Path, help="use this CSV instead of the generated one")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    path = args.file or WORK / f"large-{int(args.size_mb)}mb.csv"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "sample_data"))
        from generate import make_large  # type: ignore[import-not-found]

        make_large(path, args.size_mb)
    size = path.stat().st_size
    results: dict[str, list[dict[str, object]]] = {m: [] for m in MODES}
    for m in MODES:  # warm-up (and page cache)
        run(m, path)
    for r in range(args.runs):
        order = MODES[r % len(MODES) :] + MODES[: r % len(MODES)]
        for m in order:
            res = run(m, path)
            results[m].append(res)
            print(
                f"  round {r + 1} {m:8s} {res['seconds']:.2f}s rss {res['rss_mb']:.0f} MB",
                file=sys.stderr,
            )
    med = {m: statistics.median(float(x["seconds"]) for x in rs) for m, rs in results.items()}
    rss = {m: max(float(x["rss_mb"]) for x in rs) for m, rs in results.items()}
    mb = size / 1e6
    print(
        f"\nFile: `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` "
        f"({mb:.1f} MB), {args.runs} alternating runs after a warm-up, median; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs (shared), load average "
        f"{os.getloadavg()[0]:.1f} at the end. CPU = user + system time of the process and "
        f"its workers.\n"
    )
    cpu = {m: statistics.median(float(x["cpu"]) for x in rs) for m, rs in results.items()}
    print(
        "| method | median wall s | MB/s | wall vs pandas | median CPU s | CPU vs pandas "
        "| peak RSS MB (+ each scan worker) | chunks |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in MODES:
        workers = max(float(x.get("worker_rss_mb", 0.0)) for x in results[m])
        extra = f" (+ {workers:.0f})" if workers else ""
        print(
            f"| {LABELS[m]} | {med[m]:.2f} | {mb / med[m]:.1f} | {med['pandas'] / med[m]:.2f}x | "
            f"{cpu[m]:.2f} | {cpu['pandas'] / cpu[m]:.2f}x | {rss[m]:.0f}{extra} | "
            f"{results[m][0]['chunks']} |"
        )
    per_run = [
        float(p["seconds"]) / float(i["seconds"])
        for p, i in zip(results["pandas"], results["ingest"], strict=True)
    ]
    vs_pandas = med["pandas"] / med["ingest"]
    print(
        f"\ningest vs pandas: **{vs_pandas:.2f}x** (medians; per round "
        f"{', '.join(f'{x:.2f}' for x in per_run)}) — target ≥ {TARGET_VS_PANDAS:g}x: "
        f"{'met' if vs_pandas >= TARGET_VS_PANDAS else 'NOT met'}. ingest vs streaming pyarrow: "
        f"{med['pyarrow-stream'] / med['ingest']:.2f}x the speed at "
        f"{rss['ingest'] / rss['pyarrow-stream']:.0%} of its peak memory."
    )
    ours = results["ingest"][0]
    plan_med = statistics.median(float(x["plan_seconds"]) for x in results["ingest"])
    print(
        f"\nIngest: plan_file median {plan_med:.2f}s ({mb / plan_med:.1f} MB/s), "
        f"read_chunk+base64 the rest. Packing: {ours['chunks']} chunks for {ours['rows']} rows "
        f"(lower bound {ours['lower_bound']}, ratio "
        f"{int(ours['chunks']) / int(ours['lower_bound']):.3f}); largest chunk "
        f"{ours['max_chunk']} B ≤ {ours['max_bytes']} B; duplicates removed: {ours['removed']}."
    )
    print(
        f"\nCommand: `.venv/bin/python benchmarks/bench_split.py --size-mb {args.size_mb:g} "
        f"--runs {args.runs}`"
    )


if __name__ == "__main__":
    main()
