"""Run one ``csv_drops`` partition of the import job in this process, as a deployment would.

Used by the reliability, security and scale-out tests as a *real* subprocess (its own process
group, so a test can SIGKILL the run with its multiprocess step children). Settings come from the
environment exactly as in production (``DAGSTER_HOME``, ``CLEANLIST_*``).

    python tests/reliability/run_import.py --partition leads.csv [--multiprocess]
        [--config '{"mode": "force"}'] [--resource-config '{"rate_limit_per_key": 20}']
        [--reexecute-from RUN_ID] [--strategy from_failure|all]

The last stdout line is JSON: ``{"run_id", "success", "status", "failures": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import dagster as dg

JOB_NAME = "cleanlist_import_job"


def import_job() -> dg.JobDefinition:
    """The project's import job, built from the environment (module scope: reconstructable)."""
    from cleanlist_pipeline.definitions import build_definitions
    from cleanlist_pipeline.settings import settings_from_env

    return build_definitions(settings_from_env()).resolve_job_def(JOB_NAME)


def _failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    out: list[str] = []
    records = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        error = getattr(data, "error", None)
        text = event.message or ""
        if error is not None:
            text += "\n" + error.to_string()
        user = getattr(data, "user_failure_data", None)
        if user is not None and user.description:
            text += "\n" + user.description
        out.append(f"{event.step_key or 'run'}: {text}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Execute (or re-execute) one partition and print the JSON summary line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition")
    parser.add_argument("--config", default="{}", help="ImportConfig fields as JSON")
    parser.add_argument(
        "--resource-config",
        default="{}",
        help="CleanlistResource fields as JSON (e.g. rate_limit_per_key)",
    )
    parser.add_argument("--multiprocess", action="store_true")
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--reexecute-from", default=None, help="parent run id")
    parser.add_argument("--strategy", default="from_failure", choices=["from_failure", "all"])
    args = parser.parse_args(argv)

    instance = dg.DagsterInstance.get()
    execution = (
        {"multiprocess": {"max_concurrent": args.max_concurrent}}
        if args.multiprocess
        else {"in_process": {}}
    )
    job = dg.reconstructable(import_job)
    if args.reexecute_from:
        parent = instance.get_run_by_id(args.reexecute_from)
        if parent is None:
            raise SystemExit(f"no run {args.reexecute_from}")
        # Re-execution does not copy the parent's tags by itself; the partition tag must come
        # along or the new run would not know its partition.
        tags = {k: v for k, v in parent.tags.items() if not k.startswith(".dagster")}
        run_config: dict[str, Any] = dict(parent.run_config)
        run_config["execution"] = {"config": execution}
        if args.strategy == "from_failure":
            options = dg.ReexecutionOptions.from_failure(args.reexecute_from, instance)
        else:
            options = dg.ReexecutionOptions(parent_run_id=args.reexecute_from)
        result = dg.execute_job(
            job, instance, run_config=run_config, tags=tags, reexecution_options=options
        )
    else:
        if not args.partition:
            raise SystemExit("--partition is required")
        run_config = {
            "ops": {"cleanlist_csv_import": {"config": json.loads(args.config)}},
            "execution": {"config": execution},
        }
        resource_config = json.loads(args.resource_config)
        if resource_config:
            # Launch-time resource config replaces the resource's constructor values, the
            # EnvVar-set key and base URL included (the resource would silently fall back to
            # the embedded sandbox): name them again, from the same environment variables.
            resource_config = {
                "api_key": {"env": "CLEANLIST_API_KEY"},
                "base_url": {"env": "CLEANLIST_BASE_URL"},
                **resource_config,
            }
            run_config["resources"] = {"cleanlist": {"config": resource_config}}
        result = dg.execute_job(
            job, instance, run_config=run_config, tags={"dagster/partition": args.partition}
        )
    run = instance.get_run_by_id(result.run_id)
    summary = {
        "run_id": result.run_id,
        "success": result.success,
        "status": run.status.value if run else None,
        "failures": [] if result.success else _failures(instance, result.run_id),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
