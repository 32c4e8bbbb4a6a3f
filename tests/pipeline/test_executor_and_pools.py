"""The executor runs steps in-process unless configured otherwise; API steps share one pool."""

from __future__ import annotations

import dagster as dg

from .conftest import Pipeline


def test_in_process_by_default_multiprocess_by_config(pipeline: Pipeline) -> None:
    job = pipeline.definitions().resolve_job_def("cleanlist_import_job")
    assert job.executor_def.name == "cleanlist_executor"
    default = job.executor_def.config_schema.default_value  # type: ignore[union-attr]
    assert default == {"in_process": {}}
    for config in ({"multiprocess": {"max_concurrent": 2}}, {"in_process": {}}):
        assert dg.validate_run_config(job, {"execution": {"config": config}})


def test_every_api_step_is_in_the_cleanlist_api_pool(pipeline: Pipeline) -> None:
    job = pipeline.definitions().resolve_job_def("cleanlist_import_job")
    pools = {
        node.name: node.definition.pool
        for node in job.graph.node_dict["cleanlist_csv_import"].definition.nodes  # type: ignore[union-attr]
    }
    assert pools["plan_drop"] == "cleanlist_api"
    assert pools["import_chunk"] == "cleanlist_api"
    assert pools["import_report"] == "cleanlist_api"  # finishes chunks a re-execution skipped
