"""Backfills over an instance's drop partitions: the GraphQL launcher (for
``cleanlist-pipeline backfill``) and the backfill-wide guard that every import run consults.

Launching. :func:`launch_drops_backfill` registers every drop file as a partition and starts a
real *asset backfill* through the running webserver's GraphQL API (``addDynamicPartition``, then
``launchPartitionBackfill``), so it shows, is tracked, and can be cancelled in the UI like any
backfill started there. The CLI needs only the webserver's URL, not the instance.

Stopping. A backfill over months of drops must not fail the same way 400 times. The *first* run
of a backfill (tag ``dagster/backfill``) that meets a 401, a 403 or ``insufficient_credits``, or
whose estimate would break the backfill-wide ``max_credits`` budget, records a stop in the
instance's key-value store (``instance_kv.py``; Postgres in production, so every run worker sees
it). Runs of that backfill already queued or started read the record before calling the API and
end at once with the recorded reason. With ``settings.webserver_url`` set, the run also cancels
the backfill through the webserver's GraphQL ``cancelPartitionBackfill`` mutation (what the UI's
"Cancel backfill" does), so the daemon launches no further partitions; without it, or when the
webserver cannot be reached, the stop record alone ends every remaining run. Cancelling alone is
not enough either way: runs launched before the cancel was noticed would each meet the error again.

Budget. ``max_credits`` in the run config of a backfill's runs (or the tag
``cleanlist/max_credits``, which the UI's backfill dialog can set) is a budget for the whole backfill:
each run adds its estimate to a running total in the same key-value store and stops the backfill
when the total would pass the budget. (Two runs estimating at the same instant may both fit; the
window is one estimate wide.)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import httpx

from cleanlist_pipeline.dagster_layer.instance_kv import kv_get, kv_set
from cleanlist_pipeline.settings import Settings

__all__ = [
    "BackfillLaunch",
    "backfill_id_of",
    "cancel_backfill",
    "launch_drops_backfill",
    "record_backfill_stop",
    "reserve_backfill_credits",
    "stopped_reason",
    "wait_for_backfill",
]

BACKFILL_TAG = "dagster/backfill"
_log = logging.getLogger("cleanlist_pipeline.backfill")


def backfill_id_of(tags: dict[str, str] | Any) -> str | None:
    """The backfill a run belongs to (``dagster/backfill`` tag), if any."""
    return dict(tags).get(BACKFILL_TAG) or None


def _stop_key(settings: Settings, backfill_id: str) -> str:
    return f"{settings.names.kv_prefix}backfill.{backfill_id}.stopped"


def _spent_key(settings: Settings, backfill_id: str) -> str:
    return f"{settings.names.kv_prefix}backfill.{backfill_id}.credits"


def stopped_reason(
    instance: dg.DagsterInstance, settings: Settings, backfill_id: str | None
) -> str | None:
    """The recorded reason a backfill was stopped, or None."""
    if not backfill_id:
        return None
    raw = kv_get(instance, _stop_key(settings, backfill_id))
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    return f"{data.get('reason')} (recorded by run {data.get('run_id')}, partition {data.get('partition')})"


def record_backfill_stop(
    instance: dg.DagsterInstance,
    settings: Settings,
    backfill_id: str,
    reason: str,
    *,
    run_id: str | None = None,
    partition: str | None = None,
) -> bool:
    """Record why a backfill must stop (first writer wins); cancel it through the webserver when
    ``settings.webserver_url`` is set. Returns True when the webserver accepted the cancel."""
    key = _stop_key(settings, backfill_id)
    if not kv_get(instance, key):
        kv_set(
            instance,
            key,
            json.dumps(
                {"reason": reason, "run_id": run_id, "partition": partition, "at": time.time()}
            ),
        )
    if not settings.webserver_url:
        return False
    try:
        cancel_backfill(settings.webserver_url, backfill_id)
    except (httpx.HTTPError, RuntimeError) as exc:
        # The stop record above already ends every remaining run of the backfill.
        _log.warning("could not cancel backfill %s through the webserver: %s", backfill_id, exc)
        return False
    return True


def reserve_backfill_credits(
    instance: dg.DagsterInstance,
    settings: Settings,
    backfill_id: str,
    credits: float,
    budget: float,
) -> tuple[bool, float]:
    """Add ``credits`` to the backfill's running total if it stays within ``budget``.

    Returns (reserved, total before this run).
    """
    key = _spent_key(settings, backfill_id)
    spent = float(kv_get(instance, key) or 0)
    if spent + credits > budget:
        return False, spent
    kv_set(instance, key, repr(spent + credits))
    return True, spent


# --------------------------------------------------------------------------- GraphQL launcher

_REPO_QUERY = """
query CleanlistRepo($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) { repository { name location { name } } }
}"""

_ADD_PARTITION = """
mutation AddPartition($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""

_LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}"""

_CANCEL = """
mutation Cancel($id: String!) {
  cancelPartitionBackfill(backfillId: $id) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""

_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions }
    ... on Error { message }
  }
}"""

TERMINAL_BACKFILL_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)


@dataclass(frozen=True)
class BackfillLaunch:
    """A launched backfill."""

    backfill_id: str
    partitions: list[str]
    url: str
    refused: list[str] = field(default_factory=list)


def _graphql(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
    return body["data"]


def launch_drops_backfill(
    webserver_url: str,
    settings: Settings,
    *,
    drops_dir: str | None = None,
    partition_keys: Sequence[str] | None = None,
    max_credits: int | None = None,
    run_config: dict[str, Any] | None = None,
    title: str | None = None,
    timeout: float = 30.0,
) -> BackfillLaunch:
    """Register every drop file as a partition and launch an asset backfill through GraphQL.

    ``max_credits`` becomes the backfill-wide budget (run config of every run in it).

    >>> launch_drops_backfill("http://127.0.0.1:3000", settings_from_env())  # doctest: +SKIP
    BackfillLaunch(backfill_id='abcdefgh', partitions=[...], ...)
    """
    from cleanlist_pipeline.dagster_layer.drops import scan_drops

    folder = drops_dir or settings.drops_dir
    if not folder:
        raise ValueError(
            "no drop folder: set CLEANLIST_DROPS_DIR or pass --drops-dir (there is no default "
            "with a real API key)"
        )
    scan = scan_drops(folder, allow_insecure=settings.allow_insecure_object_store)
    keys = list(partition_keys) if partition_keys is not None else [d.key for d in scan]
    missing = [k for k in keys if k not in scan.drops]
    if missing:
        raise ValueError(f"no drop file for partition(s): {', '.join(missing)}")
    if not keys:
        raise ValueError(f"the drop folder {folder!r} holds no CSV files")
    config = dict(run_config or {})
    if max_credits is not None:
        node = settings.names.import_asset.to_python_identifier()
        config = _with_import_config(config, node, {"max_credits": int(max_credits)})
    names = settings.names
    asset_path = list(names.import_asset.path)
    base = webserver_url.rstrip("/")
    with httpx.Client(base_url=base, timeout=timeout) as client:
        data = _graphql(client, _REPO_QUERY, {"keys": [{"path": asset_path}]})
        nodes = data.get("assetNodes") or []
        if not nodes:
            raise RuntimeError(
                f"the Dagster webserver at {base} does not define asset "
                f"{names.import_asset.to_user_string()}"
            )
        repo = nodes[0]["repository"]
        selector = {
            "repositoryName": repo["name"],
            "repositoryLocationName": repo["location"]["name"],
        }
        for key in keys:
            result = _graphql(
                client,
                _ADD_PARTITION,
                {"repo": selector, "name": names.partitions_drops, "key": key},
            )["addDynamicPartition"]
            if result["__typename"] not in (
                "AddDynamicPartitionSuccess",
                "DuplicateDynamicPartitionError",
            ):
                raise RuntimeError(f"could not register partition {key!r}: {result.get('message')}")
        params: dict[str, Any] = {
            "partitionNames": keys,
            "assetSelection": [{"path": asset_path}],
            "title": title or f"Cleanlist import of {len(keys)} drop(s)",
            "tags": [{"key": "cleanlist/launched_by", "value": "cleanlist-pipeline backfill"}],
        }
        if config:
            params["runConfigData"] = config
        launched = _graphql(client, _LAUNCH, {"params": params})["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"the backfill was not launched: {launched.get('message')}")
    backfill_id = launched["backfillId"]
    return BackfillLaunch(
        backfill_id=backfill_id,
        partitions=keys,
        url=f"{base}/runs/b/{backfill_id}",
        refused=list(scan.refused),
    )


def _with_import_config(
    run_config: dict[str, Any], node_name: str, values: dict[str, Any]
) -> dict[str, Any]:
    ops = dict(run_config.get("ops", {}))
    node = dict(ops.get(node_name, {}))
    node["config"] = {**node.get("config", {}), **values}
    ops[node_name] = node
    return {**run_config, "ops": ops}


def cancel_backfill(webserver_url: str, backfill_id: str, *, timeout: float = 10.0) -> None:
    """Cancel a backfill through the webserver's GraphQL ``cancelPartitionBackfill`` (what the
    UI's "Cancel backfill" does); raises ``RuntimeError`` when the webserver refuses."""
    with httpx.Client(base_url=webserver_url.rstrip("/"), timeout=timeout) as client:
        result = _graphql(client, _CANCEL, {"id": backfill_id})["cancelPartitionBackfill"]
    if result["__typename"] != "CancelBackfillSuccess":
        raise RuntimeError(f"backfill {backfill_id} was not cancelled: {result.get('message')}")


def wait_for_backfill(
    webserver_url: str, backfill_id: str, *, timeout: float = 600.0, interval: float = 2.0
) -> str:
    """Poll the backfill's status until it is terminal; return that status."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=webserver_url.rstrip("/"), timeout=30.0) as client:
        while True:
            node = _graphql(client, _STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if node["__typename"] != "PartitionBackfill":
                raise RuntimeError(f"backfill {backfill_id}: {node.get('message')}")
            if node["status"] in TERMINAL_BACKFILL_STATUSES:
                return str(node["status"])
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"backfill {backfill_id} still {node['status']} after {timeout:.0f} s"
                )
            time.sleep(interval)
