"""Plan one drop in this process and report the outcome, the wall time and this process's peak RSS.

Run by ``test_hostile_files_bounded.py`` as ``python plan_in_child.py <drop>`` so that the memory
measured is the planning's alone (not pytest's, nor that of other tests' children). Prints one
JSON object: ``{"error": class name or null, "message": str, "seconds": float, "peak_rss_mb":
float, "rejects": [[record, reason], ...], "chunks": int}``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main(path: str) -> None:
    from cleanlist_pipeline.ingest import plan_file  # timed: imports are part of the run

    started = time.monotonic()
    out: dict[str, object] = {"error": None, "message": "", "rejects": [], "chunks": 0}
    try:
        plan = plan_file(path)
        out["rejects"] = [[r.record, r.reason] for r in plan.rejects]
        out["chunks"] = len(plan.chunks)
    except Exception as exc:
        out["error"] = type(exc).__name__
        out["message"] = str(exc)
    out["seconds"] = time.monotonic() - started
    out["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (``VmHWM``, of the current address space).

    Not ``ru_maxrss``: Linux carries it over from the parent through fork and exec, so a child
    of pytest would report pytest's own size.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: the best figure there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


if __name__ == "__main__":
    main(sys.argv[1])
