"""A throwaway deployment of the pipeline for end-to-end proofs.

``Deployment`` is what an operator has: a ``DAGSTER_HOME``, a drop folder, a data folder and an
API key pointing at a Cleanlist (here a sandbox *process*). Runs execute as real subprocesses in
their own process group (``run_import.py``), configured only through the environment, so a test
can SIGKILL a run with its step children, and every byte a run writes lands in folders the test
can scan.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cleanlist_pipeline.testing import admin_headers, read_admin_token

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_import.py")
TICK = Path(__file__).with_name("sensor_tick.py")
IMPORT_JOB = "cleanlist_import_job"
IMPORT_ASSET = "cleanlist_csv_import"
HEADER = ["first_name", "last_name", "email", "phone", "company_name", "job_title"]


# --------------------------------------------------------------------------- drop content


def lead_rows(n: int, *, tag: str = "r", start: int = 0) -> list[dict[str, str]]:
    """``n`` distinct, importable leads (each has an email); values embed ``tag`` and index."""
    rows = []
    for i in range(start, start + n):
        rows.append(
            {
                "first_name": f"Ada{tag}{i}",
                "last_name": f"Lovelace{tag}{i}",
                "email": f"ada.{tag}.{i}@example.com",
                "phone": f"+1 415 555 {i % 10000:04d}",
                "company_name": f"Analytical Engines {tag} {i % 97}",
                "job_title": "Engineer",
            }
        )
    return rows


def csv_bytes(rows: Sequence[Mapping[str, str]], header: Sequence[str] = HEADER) -> bytes:
    """Rows as UTF-8 CSV bytes with a header line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- sandbox processes


@dataclass
class SandboxProc:
    """A sandbox server subprocess on a fixed port (so it can be stopped and started again)."""

    db_path: str
    port: int
    keys: list[str]
    rpm_key: int = 0
    rpm_org: int = 0
    enrich_seconds: float = 1.0
    credits: int = 100_000
    log_path: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v2(self) -> str:
        return self.origin + "/api/v2"

    @property
    def key(self) -> str:
        return self.keys[0].partition(":")[0]

    def start(self, timeout: float = 30.0) -> SandboxProc:
        """Start ``cleanlist-sandbox serve`` over ``db_path``; returns when it answers."""
        cmd = [
            sys.executable,
            "-m",
            "cleanlist_pipeline.sandbox.cli",
            "serve",
            "--port",
            str(self.port),
            "--db",
            self.db_path,
            "--rpm-key",
            str(self.rpm_key),
            "--rpm-org",
            str(self.rpm_org),
            "--enrich-seconds",
            str(self.enrich_seconds),
            "--credits",
            str(self.credits),
        ]
        for k in self.keys:
            cmd += ["--key", k]
        if not self.log_path:
            self.log_path = self.db_path + ".log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox exited: {Path(self.log_path).read_text()[-2000:]}")
            try:
                httpx.get(self.origin + "/_sandbox/ledger", timeout=1.0)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("sandbox did not answer in time")

    def kill(self) -> None:
        """SIGKILL the sandbox's process group (an abrupt crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    # admin API -----------------------------------------------------------------------
    def admin(self, method: str, path: str, **kw: Any) -> Any:
        headers = admin_headers(read_admin_token(self.db_path))
        r = httpx.request(
            method, self.origin + "/_sandbox" + path, timeout=60.0, headers=headers, **kw
        )
        r.raise_for_status()
        return r.json()

    def ledger(self) -> dict[str, Any]:
        return self.admin("GET", "/ledger")

    def imports(self, list_id: str | None = None) -> list[dict[str, Any]]:
        params = {"list_id": list_id} if list_id else None
        return self.admin("GET", "/imports", params=params)["imports"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_process(
    folder: Path, *, keys: Sequence[str] | None = None, **options: Any
) -> Iterator[SandboxProc]:
    """A sandbox process for a ``with`` block; stopped (by its own pid) afterwards."""
    proc = SandboxProc(
        db_path=str(folder / "cleanlist-sandbox.sqlite"),
        port=free_port(),
        keys=list(keys or ["clapi_reliability_" + os.urandom(12).hex() + ":*"]),
        **options,
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


# --------------------------------------------------------------------------- the deployment


@dataclass
class RunOutcome:
    """What a finished run subprocess reported."""

    returncode: int
    run_id: str | None
    success: bool
    status: str | None
    failures: list[str]
    stdout: str
    stderr: str
    seconds: float

    @property
    def failure_text(self) -> str:
        return "\n".join(self.failures) + "\n" + self.stderr[-4000:]


@dataclass
class Deployment:
    """DAGSTER_HOME + drops + data folders + API settings; runs as subprocesses."""

    root: Path
    base_url: str
    api_key: str
    list_name: str = "Reliability proofs"
    extra_env: dict[str, str] = field(default_factory=dict)
    dagster_yaml: str | None = None
    #: CleanlistResource fields set through run config (e.g. the client's rate limits).
    resource_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = self.root / "dagster_home"
        self.drops = self.root / "drops"
        self.data = self.root / "data"
        self.logs = self.root / "process-logs"
        for d in (self.home, self.drops, self.data, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(
            self.dagster_yaml if self.dagster_yaml is not None else "telemetry:\n  enabled: false\n"
        )
        self._n = 0

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CLEANLIST_", "DAGSTER_", "PYTEST_"))
        }
        env.update(
            {
                "DAGSTER_HOME": str(self.home),
                "CLEANLIST_API_KEY": self.api_key,
                "CLEANLIST_BASE_URL": self.base_url,
                "CLEANLIST_DROPS_DIR": str(self.drops),
                "CLEANLIST_DATA_DIR": str(self.data),
                "CLEANLIST_LIST_NAME": self.list_name,
                "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def add_drop(self, name: str, content: bytes) -> str:
        """Write a drop file and register its partition; returns the partition key."""
        from cleanlist_pipeline.dagster_layer.partitions import partition_key_for
        from cleanlist_pipeline.settings import Names

        path = self.drops / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        key = partition_key_for(name)
        with self.instance() as instance:
            instance.add_dynamic_partitions(Names().partitions_drops, [key])
        return key

    @contextmanager
    def instance(self) -> Iterator[Any]:
        """The deployment's DagsterInstance, opened in this process."""
        import dagster as dg
        from dagster._core.instance.ref import InstanceRef

        # dagster.yaml may read settings from the environment ({env: DAGSTER_PG_HOST}, …):
        # give this process the deployment's values while the instance is opened.
        saved = {k: os.environ.get(k) for k in self.extra_env}
        os.environ.update(self.extra_env)
        try:
            instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        with instance:
            yield instance

    def _command(
        self,
        partition: str | None,
        config: Mapping[str, Any] | None,
        multiprocess: bool,
        reexecute_from: str | None,
        strategy: str,
    ) -> list[str]:
        cmd = [sys.executable, str(RUNNER)]
        if reexecute_from:
            cmd += ["--reexecute-from", reexecute_from, "--strategy", strategy]
        else:
            cmd += ["--partition", str(partition), "--config", json.dumps(dict(config or {}))]
            if self.resource_config:
                cmd += ["--resource-config", json.dumps(self.resource_config)]
        if multiprocess:
            cmd.append("--multiprocess")
        return cmd

    def spawn(
        self,
        partition: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        multiprocess: bool = False,
        reexecute_from: str | None = None,
        strategy: str = "from_failure",
    ) -> tuple[subprocess.Popen[bytes], Path, Path]:
        """Start a run subprocess in its own process group; returns (proc, stdout, stderr)."""
        self._n += 1
        out = self.logs / f"run{self._n}.stdout"
        err = self.logs / f"run{self._n}.stderr"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                self._command(partition, config, multiprocess, reexecute_from, strategy),
                stdout=o,
                stderr=e,
                env=self.env,
                cwd=REPO,
                start_new_session=True,
            )
        return proc, out, err

    def run(
        self,
        partition: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        multiprocess: bool = False,
        reexecute_from: str | None = None,
        strategy: str = "from_failure",
        timeout: float = 240.0,
    ) -> RunOutcome:
        """Run to completion (kills the process group on timeout) and parse its summary."""
        started = time.monotonic()
        proc, out, err = self.spawn(
            partition,
            config=config,
            multiprocess=multiprocess,
            reexecute_from=reexecute_from,
            strategy=strategy,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise AssertionError(
                f"run did not finish in {timeout:.0f} s: {err.read_text(errors='replace')[-3000:]}"
            ) from None
        return parse_outcome(proc.returncode, out, err, time.monotonic() - started)

    def tick(self, *, die: bool = False, timeout: float = 180.0) -> dict[str, Any] | None:
        """One daemon-style enrichment-sensor tick in a fresh process (``sensor_tick.py``).

        With ``die`` the process dies at the moment its cursor would be saved (returns None).
        """
        self._n += 1
        out = self.logs / f"tick{self._n}.stdout"
        err = self.logs / f"tick{self._n}.stderr"
        cmd = [sys.executable, str(TICK)] + (["--die-before-cursor"] if die else [])
        with out.open("wb") as o, err.open("wb") as e:
            done = subprocess.run(
                cmd,
                env=self.env,
                cwd=REPO,
                stdout=o,
                stderr=e,
                timeout=timeout,
                start_new_session=True,
            )
        stderr = err.read_text(errors="replace")
        if die:
            assert done.returncode == 137, f"tick should have died at its cursor:\n{stderr[-3000:]}"
            return None
        assert done.returncode == 0, stderr[-3000:]
        return json.loads(out.read_text().strip().splitlines()[-1])

    def files(self) -> Iterator[Path]:
        """Every regular file the deployment keeps (home, data, drops' rejects, process logs)."""
        for base in (self.home, self.data, self.logs):
            for path in base.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    yield path


def parse_outcome(returncode: int, out: Path, err: Path, seconds: float) -> RunOutcome:
    """Read a run subprocess's JSON summary line (the last stdout line)."""
    stdout = out.read_text(errors="replace")
    stderr = err.read_text(errors="replace")
    summary: dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{") and '"run_id"' in line:
            summary = json.loads(line)
            break
    if not summary:
        raise AssertionError(f"run printed no summary (rc={returncode}):\n{stderr[-4000:]}")
    return RunOutcome(
        returncode,
        summary.get("run_id"),
        bool(summary.get("success")),
        summary.get("status"),
        list(summary.get("failures") or []),
        stdout,
        stderr,
        seconds,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process group started with ``start_new_session`` (the run and its children)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------- list inspection


def _iter_raw_leads(base_url: str, api_key: str, list_id: str) -> Iterator[dict[str, Any]]:
    """Every lead row of a list, through the public API (raw httpx: independent of the client)."""
    cursor: str | None = None
    with httpx.Client(
        base_url=base_url, timeout=60.0, headers={"Authorization": f"Bearer {api_key}"}
    ) as http:
        while True:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            r = http.get(f"/lead-lists/{list_id}/leads", params=params)
            r.raise_for_status()
            page = r.json()
            yield from page["leads"]
            cursor = page.get("cursor")
            if not cursor:
                return


def list_lead_ids(base_url: str, api_key: str, list_id: str) -> list[str]:
    """Every lead id of a list, through the public API."""
    return [str(lead["lead_id"]) for lead in _iter_raw_leads(base_url, api_key, list_id)]


def list_emails(base_url: str, api_key: str, list_id: str) -> list[str]:
    """Every lead's email in a list (lower-cased), through the public API."""
    return [
        str(lead.get("email") or "").lower() for lead in _iter_raw_leads(base_url, api_key, list_id)
    ]


def find_list(ledger: Mapping[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """The sandbox ledger's entry for the list called ``name``."""
    matches = [(lid, info) for lid, info in ledger["lists"].items() if info.get("name") == name]
    assert len(matches) == 1, f"expected one list named {name!r}, ledger has {ledger['lists']}"
    return matches[0]


def temp_dir(prefix: str) -> Path:
    """A fresh folder under the system temp dir (for servers whose users differ)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
