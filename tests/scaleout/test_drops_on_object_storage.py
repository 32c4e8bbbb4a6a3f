"""Drops in a bucket: the sensor finds them, imports read them from the bucket, rejects land there.

A Kubernetes or Celery deployment shares no disk between the machine that plans a drop and those
that import its chunks, so ``CLEANLIST_DROPS_DIR`` and ``CLEANLIST_DATA_DIR`` may be ``s3://``
URIs. Here they point at a real S3-compatible server on loopback (moto's server mode), the
imports run on a real Dagster instance against the sandbox process, and the planning machine's
temporary copy of each drop is gone before any chunk step reads its bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions, describe_plan
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dropstore import local_drop, rejects_name
from cleanlist_pipeline.ingest import DropChangedError, NotCSVError, read_chunk, split_chunk
from cleanlist_pipeline.settings import Names, Settings
from cleanlist_pipeline.settings import settings_from_env as load_settings
from tests.dagster_helpers import failure_message, materialization, run_import_in_processes

from .conftest import S3Endpoint

DROP_SENSOR_NAME = Names().drop_sensor
CSV_DROPS_NAME = Names().partitions_drops
HEADER = "first_name,last_name,email,company_name,job_title\n"


def lead_rows(n: int, start: int = 0) -> str:
    return "".join(
        f"First{i},Last{i},person{i}@example.com,Company {i % 97},Engineer\n"
        for i in range(start, start + n)
    )


def uri(endpoint: S3Endpoint, bucket: str, prefix: str) -> str:
    return (
        f"s3://{bucket}/{prefix}?endpoint_override={endpoint.host_port}&scheme=http"
        f"&region={endpoint.region}"
    )


def put(endpoint: S3Endpoint, bucket: str, key: str, body: str) -> None:
    endpoint.client().put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))


class BucketPipeline:
    """The import layer configured from the environment, as a deployment would be."""

    def __init__(self, sandbox: Any, instance: dg.DagsterInstance, list_name: str) -> None:
        self.sandbox = sandbox
        self.instance = instance
        self.list_name = list_name
        self.settings: Settings = load_settings()
        resource = CleanlistResource(
            api_key=sandbox.key,
            base_url=sandbox.v1,
            rate_limit_per_key=0,
            max_attempts=3,
            max_total_retry_wait_seconds=2.0,
        )
        self.defs = dg.Definitions.merge(
            build_import_definitions(self.settings),
            dg.Definitions(resources={Names().resource: resource}),
        )
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult | dg.SkipReason:
        """One drop-sensor evaluation; registers the partitions it asks for."""
        sensor = self.defs.resolve_sensor_def(DROP_SENSOR_NAME)
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, definitions=self.defs
        )
        result = sensor(context)
        if isinstance(result, dg.SensorResult):
            self.cursor = result.cursor
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(CSV_DROPS_NAME, list(request.partition_keys))
        else:
            self.cursor = context.cursor
        return result

    def run(self, key: str, config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def("cleanlist_import_job")
        return job.execute_in_process(
            instance=self.instance,
            partition_key=key,
            run_config={"ops": {"cleanlist_csv_import": {"config": config}}} if config else None,
            raise_on_error=False,
        )

    def lead_count(self) -> int:
        lists = self.sandbox.ledger()["lists"].values()
        return sum(v["lead_count"] for v in lists if v["name"] == self.list_name)

    def imports_executed(self) -> int:
        return int(self.sandbox.ledger()["csv_imports"]["executed"])

    def materialization(self, key: str) -> dict[str, Any]:
        return materialization(self.instance, key)


@pytest.fixture
def bucket_env(
    moto_s3: S3Endpoint, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Drops and data in the bucket; this process's cwd and temp folder are private to the test
    (so a bogus local ``s3:`` folder or a leftover planning copy would show)."""
    env = {
        "CLEANLIST_DROPS_DIR": uri(moto_s3, s3_bucket, "drops"),
        "CLEANLIST_DATA_DIR": uri(moto_s3, s3_bucket, "data"),
        "CLEANLIST_NAMESPACE": "bucket-tests",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return env


@pytest.fixture
def instance(tmp_path: Path) -> Any:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def test_bucket_drops_import_once_and_rejects_land_in_the_bucket(
    moto_s3: S3Endpoint,
    s3_bucket: str,
    bucket_env: dict[str, str],
    cleanlist_sandbox: Any,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLEANLIST_LIST_NAME", "bucket drops")
    put(moto_s3, s3_bucket, "drops/2026-01/webinar.csv", HEADER + lead_rows(700))  # 2 chunks
    ragged = "Ann,Lee,ann@example.com,Acme,CEO,one field too many\n"  # record 7
    bad = HEADER + lead_rows(5, start=1000) + ragged + lead_rows(3, start=2000)
    put(moto_s3, s3_bucket, "drops/bad rows.csv", bad)
    put(moto_s3, s3_bucket, "drops/notes.txt", "not a drop")
    put(moto_s3, s3_bucket, "drops/.uploading.csv", HEADER + lead_rows(2, start=5000))
    p = BucketPipeline(cleanlist_sandbox, instance, "bucket drops")

    first = p.tick()
    assert isinstance(first, dg.SensorResult), first
    requested = {r.partition_key: r for r in first.run_requests}
    assert set(requested) == {"2026-01/webinar.csv", "bad rows.csv"}
    assert set(instance.get_dynamic_partitions(CSV_DROPS_NAME)) == set(requested)
    body = (HEADER + lead_rows(700)).encode()
    assert requested["2026-01/webinar.csv"].run_key == (
        f"2026-01/webinar.csv@{hashlib.sha256(body).hexdigest()}"
    )

    imported = 0
    for key in sorted(requested):
        result = p.run(key)
        assert result.success, f"{key}: {failure_message(result)}"
        meta = p.materialization(key)
        imported += meta["rows_imported"]
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"every_record_accounted_for": True, "no_chunk_failed": True}, checks
    assert p.materialization("2026-01/webinar.csv")["chunks"] == 2
    assert imported == 708
    assert p.lead_count() == imported

    # The rejects file is an object in the bucket, named by a URI without credentials.
    meta = p.materialization("bad rows.csv")
    assert meta["rejected"] == 1
    name = rejects_name("bad rows.csv")  # bad rows~<hash>.csv
    assert meta["rejects_file"].startswith(
        f"s3://{s3_bucket}/data/rejects/{name.replace(' ', '%20')}?"
    )
    assert moto_s3.secret_key not in meta["rejects_file"]
    obj = moto_s3.client().get_object(Bucket=s3_bucket, Key=f"data/rejects/{name}")
    rows = list(csv.reader(io.StringIO(obj["Body"].read().decode("utf-8"))))
    assert rows[0][:4] == ["reject_reason", "reject_detail", "source_record", "source_line"]
    assert [(r[0], r[2], r[4:]) for r in rows[1:]] == [
        ("ragged_row", "7", ["Ann", "Lee", "ann@example.com", "Acme", "CEO", "one field too many"])
    ]
    keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert not any(k.startswith("data/") and "/." in k for k in keys), keys

    # Nothing local: no "s3:" folder from treating the URI as a path, no planning copy left.
    assert list(Path.cwd().iterdir()) == []
    assert list(Path(tempfile.gettempdir()).glob("cleanlist-drop-*")) == []

    # A re-run imports nothing, and the sensor asks for nothing.
    executed = p.imports_executed()
    for key in sorted(requested):
        assert p.run(key).success
    assert p.imports_executed() == executed
    assert p.lead_count() == imported
    assert isinstance(p.tick(), dg.SkipReason)


def test_a_changed_object_is_refused_like_a_changed_local_drop(
    moto_s3: S3Endpoint,
    s3_bucket: str,
    bucket_env: dict[str, str],
    cleanlist_sandbox: Any,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLEANLIST_LIST_NAME", "changed object")
    put(moto_s3, s3_bucket, "drops/jan.csv", HEADER + lead_rows(30))
    p = BucketPipeline(cleanlist_sandbox, instance, "changed object")
    (request,) = p.tick().run_requests  # type: ignore[union-attr]
    assert p.run(request.partition_key).success
    assert p.lead_count() == 30

    # Re-uploaded under the same key with more rows: reported by the sensor, not run.
    put(moto_s3, s3_bucket, "drops/jan.csv", HEADER + lead_rows(30) + lead_rows(12, start=900))
    tick = p.tick()
    assert isinstance(tick, dg.SkipReason)
    assert "jan.csv: content changed since its last import" in (tick.skip_message or "")

    # Materialized by hand it is refused before any import, exactly like a local drop.
    executed = p.imports_executed()
    refused = p.run("jan.csv")
    assert not refused.success
    message = failure_message(refused)
    assert "changed since its last import" in message and "mode: append" in message
    assert p.imports_executed() == executed and p.lead_count() == 30

    appended = p.run("jan.csv", {"mode": "append"})
    assert appended.success, failure_message(appended)
    assert p.lead_count() == 42
    assert p.materialization("jan.csv")["already_imported"] == 30


def test_an_object_changed_after_planning_fails_the_chunk_read(
    moto_s3: S3Endpoint, s3_bucket: str, bucket_env: dict[str, str]
) -> None:
    put(moto_s3, s3_bucket, "drops/feb.csv", HEADER + lead_rows(40))
    (drop,) = scan_drops(bucket_env["CLEANLIST_DROPS_DIR"])
    with local_drop(drop.path) as local:
        plan = local.plan(max_rows=25)
    assert plan.path == drop.path and len(plan.chunks) == 2
    # Chunk reads come from the object by byte range, the copy being gone already; so does the
    # split after a 413.
    assert read_chunk(plan.path, plan, plan.chunks[1]).count(b"\n") == 16
    halves = split_chunk(plan.chunks[0], plan.path, plan)
    assert [h.rows for h in halves] == [12, 13]
    assert (
        b"".join(read_chunk(plan.path, plan, h)[len(HEADER) :] for h in halves)
        == (read_chunk(plan.path, plan, plan.chunks[0])[len(HEADER) :])
    )

    # Same length, one letter different: only the manifest's sha256 can tell.
    put(moto_s3, s3_bucket, "drops/feb.csv", (HEADER + lead_rows(40)).replace("First39", "Firsu39"))
    with pytest.raises(DropChangedError, match="no longer matches the planned bytes"):
        read_chunk(plan.path, plan, plan.chunks[1])
    assert read_chunk(plan.path, plan, plan.chunks[0]).startswith(HEADER.encode())

    # A drop that cannot be imported names the object, not the planning machine's copy.
    moto_s3.client().put_object(
        Bucket=s3_bucket, Key="drops/zipped.csv", Body=b"\x1f\x8b\x08\x00" + b"\x00" * 64
    )
    zipped = scan_drops(bucket_env["CLEANLIST_DROPS_DIR"]).drops["zipped.csv"]
    with pytest.raises(NotCSVError) as err, local_drop(zipped.path) as local:
        local.plan()
    assert str(err.value).startswith(f"{zipped.path}: ") and "cleanlist-drop-" not in str(err.value)

    moto_s3.client().delete_object(Bucket=s3_bucket, Key="drops/feb.csv")
    with pytest.raises(DropChangedError, match="the drop is gone"):
        read_chunk(plan.path, plan, plan.chunks[0])


def test_bucket_scan_uses_the_local_keys_skips_and_refusals(
    moto_s3: S3Endpoint, s3_bucket: str, bucket_env: dict[str, str]
) -> None:
    body = HEADER + lead_rows(3)
    for key in (
        "drops/a.csv",
        "drops/2024/Q1/b.CSV",
        "drops/x,y.csv",  # both sanitise to x_y.csv: refused, not guessed
        "drops/x_y.csv",
        "drops/up/../sneaky.csv",  # a valid object key that climbs out of the prefix
        "drops/.staging/c.csv",  # hidden folder
        "drops/.d.csv",  # hidden file
        "drops/readme.md",
        "elsewhere/e.csv",  # outside the prefix
    ):
        put(moto_s3, s3_bucket, key, body)
    scan = scan_drops(bucket_env["CLEANLIST_DROPS_DIR"])
    assert sorted(scan.drops) == ["2024/Q1/b.CSV", "a.csv"]
    assert any("x_y.csv" in r and "x,y.csv" in r for r in scan.refused), scan.refused
    assert any(r.startswith("up/../sneaky.csv: ") for r in scan.refused), scan.refused
    drop = scan.drops["a.csv"]
    assert drop.on_object_store and drop.size == len(body)
    assert drop.sha256() == hashlib.sha256(body.encode()).hexdigest()

    # `cleanlist-pipeline plan` works on the bucket too (it sends nothing).
    planned = {item["path"]: item for item in describe_plan(None, load_settings())}
    assert planned["a.csv"]["rows_to_send"] == 3 and "error" not in planned["a.csv"]
    assert "error" in planned["up/../sneaky.csv"]

    # An empty prefix is an empty drop folder; a missing bucket or credentials in the URI are not.
    assert list(scan_drops(uri(moto_s3, s3_bucket, "nothing-here"))) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_drops(uri(moto_s3, s3_bucket + "-missing", "drops"))
    with_keys = bucket_env["CLEANLIST_DROPS_DIR"].replace("s3://", "s3://testing:testing@")
    with pytest.raises(ValueError, match="credentials") as err:
        scan_drops(with_keys)
    assert "testing:testing" not in str(err.value)


@pytest.mark.slow
def test_chunk_steps_in_other_processes_read_the_drop_from_the_bucket(
    moto_s3: S3Endpoint,
    s3_bucket: str,
    bucket_env: dict[str, str],
    cleanlist_sandbox: Any,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One process per step (as on a Kubernetes/Celery executor): each chunk step rebuilds the
    definitions from the environment and reads its byte ranges from the object store."""
    for name, value in {
        "CLEANLIST_API_KEY": cleanlist_sandbox.key,
        "CLEANLIST_BASE_URL": cleanlist_sandbox.v1,
        "CLEANLIST_LIST_NAME": "bucket multiprocess",
    }.items():
        monkeypatch.setenv(name, value)
    put(moto_s3, s3_bucket, "drops/mp.csv", HEADER + lead_rows(1300))  # 3 chunks

    run = run_import_in_processes(instance, "mp.csv")
    assert run.success
    chunk_steps = {s for s in run.succeeded_steps if "import_chunk" in s}
    print(f"multiprocess import from the bucket: {run.seconds:.1f} s")
    assert len(chunk_steps) == 3
    lists = cleanlist_sandbox.ledger()["lists"].values()
    assert [v["lead_count"] for v in lists if v["name"] == "bucket multiprocess"] == [1300]


def test_a_sidecar_mapping_beside_the_object_is_used(
    moto_s3: S3Endpoint, s3_bucket: str, bucket_env: dict[str, str]
) -> None:
    put(moto_s3, s3_bucket, "drops/de.csv", "Kontakt,Firma\nanna@example.com,Acme\n")
    put(
        moto_s3,
        s3_bucket,
        "drops/de.csv.mapping.json",
        '{"email": "Kontakt", "company_name": "Firma"}',
    )
    (drop,) = scan_drops(bucket_env["CLEANLIST_DROPS_DIR"])  # the sidecar is not a drop
    with local_drop(drop.path) as local:
        plan = local.plan()
    assert plan.mapping_source == "sidecar"
    assert plan.column_mapping == {"email": "Kontakt", "company_name": "Firma"}
