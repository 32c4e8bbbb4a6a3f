"""CleanlistResource: embedded-sandbox vs api mode (said in every log line and in metadata),
construction from settings with the key pinned, the secret key field, and one client per run
closed at teardown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.api import CleanlistClient, ConfigurationError
from cleanlist_pipeline.dagster_layer.resources import (
    CleanlistResource,
    cleanlist_resource_from_env,
)
from cleanlist_pipeline.testing import SandboxHandle


def test_without_a_key_the_embedded_sandbox_is_used_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resource = cleanlist_resource_from_env({"DAGSTER_HOME": str(tmp_path)})
    assert resource.mode == "embedded-sandbox"
    caplog.set_level(logging.DEBUG, logger="cleanlist_pipeline.api")
    with resource.get_client() as client:
        assert client.whoami().organization_id
        client.create_list("embedded demo")
    assert (tmp_path / "cleanlist-sandbox.sqlite").exists()
    lines = [r.getMessage() for r in caplog.records if r.name == "cleanlist_pipeline.api"]
    assert len(lines) >= 3 and all(m.startswith("[cleanlist embedded-sandbox] ") for m in lines)
    target = resource.describe_target()
    assert target.startswith("embedded-sandbox at http://127.0.0.1:")
    assert resource.target_metadata()["cleanlist_mode"] == "embedded-sandbox"


def test_with_a_key_the_api_mode_is_used_and_said(
    cleanlist_sandbox: SandboxHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    resource = CleanlistResource(
        api_key=cleanlist_sandbox.key,
        base_url=cleanlist_sandbox.v2,
        rate_limit_db_path=str(tmp_path / "rl.sqlite"),
    )
    caplog.set_level(logging.DEBUG, logger="cleanlist_pipeline.api")
    with resource.get_client() as client:
        client.whoami()
    lines = [r.getMessage() for r in caplog.records if r.name == "cleanlist_pipeline.api"]
    assert lines and all(m.startswith("[cleanlist api] ") for m in lines)
    assert resource.describe_target() == f"api at {cleanlist_sandbox.v2}"
    assert cleanlist_sandbox.key not in resource.describe_target()


def test_the_deployments_key_is_pinned_not_a_config_value() -> None:
    unset = cleanlist_resource_from_env({})
    assert unset.api_key is None and unset.mode == "embedded-sandbox"

    env = {
        "CLEANLIST_API_KEY": "clapi_from_env_123",
        "CLEANLIST_BASE_URL": "https://eu.api.cleanlist.ai/api/v2",
    }
    resource = cleanlist_resource_from_env(env)
    assert resource.api_key is None  # nothing the Launchpad shows or run config replaces
    assert resource.mode == "api"
    assert resource.describe_target() == "api at https://eu.api.cleanlist.ai/api/v2"
    assert "clapi_from_env_123" not in repr(resource)
    assert "clapi_from_env_123" not in repr(type(resource).deployment)


def test_rate_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"CLEANLIST_RATE_LIMIT_PER_KEY": "12", "CLEANLIST_RATE_LIMIT_PER_ORG": "0"}
    resource = cleanlist_resource_from_env(env)
    assert (resource.rate_limit_per_key, resource.rate_limit_per_org) == (12, 0)
    with pytest.raises(ValueError, match="CLEANLIST_RATE_LIMIT_PER_KEY must be a whole number"):
        cleanlist_resource_from_env({"CLEANLIST_RATE_LIMIT_PER_KEY": "lots"})


def test_a_resource_rebuilt_without_its_key_still_targets_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What Dagster hands a run that supplied any resource config at launch: the resource is
    # rebuilt as ``self.__class__(**launch_config)``; the pinned key and origin survive that.
    env = {
        "CLEANLIST_API_KEY": "clapi_from_env_456",
        "CLEANLIST_BASE_URL": "https://eu.api.cleanlist.ai/api/v2",
    }
    rebuilt = type(cleanlist_resource_from_env(env))(rate_limit_per_key=10)
    assert rebuilt.mode == "api"
    assert rebuilt.describe_target() == "api at https://eu.api.cleanlist.ai/api/v2"
    # A resource nobody pinned never falls back to the environment's key.
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert CleanlistResource(rate_limit_per_key=10).mode == "embedded-sandbox"


def test_definitions_load_with_and_without_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An unset EnvVar raises at launch, so the helper must not pass one when the var is unset.
    @dg.asset
    def probe(cleanlist: CleanlistResource) -> str:
        return cleanlist.mode

    monkeypatch.delenv("CLEANLIST_API_KEY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    result = dg.materialize(
        [probe],
        resources={"cleanlist": cleanlist_resource_from_env()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.output_for_node("probe") == "embedded-sandbox"


def test_key_field_is_secret_in_the_ui_schema() -> None:
    fields = CleanlistResource.to_config_schema().as_field().config_type.fields  # type: ignore[attr-defined]
    assert fields["api_key"].is_secret is True
    assert fields["base_url"].is_secret is False


def test_plain_http_to_a_remote_host_is_refused() -> None:
    resource = CleanlistResource(api_key="clapi_x", base_url="http://api.cleanlist.ai/api/v2")
    with pytest.raises(ConfigurationError, match="Refusing plain http://"):
        resource.get_client()


_seen: list[Any] = []


def test_one_client_per_run_closed_at_teardown(
    cleanlist_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    _seen.clear()

    @dg.asset
    def uses_client_twice(cleanlist: CleanlistResource) -> int:
        with cleanlist.get_client() as first:
            first.whoami()
            _seen.append(first)
        with cleanlist.get_client() as second:  # the first `with` must not have closed it
            second.whoami()
            _seen.append(second)
        return 0

    resource = CleanlistResource(
        api_key=cleanlist_sandbox.key,
        base_url=cleanlist_sandbox.v1,
        rate_limit_db_path=str(tmp_path / "rl.sqlite"),
    )
    result = dg.materialize(
        [uses_client_twice],
        resources={"cleanlist": resource},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    first, second = _seen
    assert first is second and isinstance(first, CleanlistClient)
    assert first.closed  # closed with the run
    with pytest.raises(RuntimeError, match="closed"):
        first.whoami()


def test_outside_a_run_each_client_is_the_callers_to_close(
    cleanlist_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    resource = CleanlistResource(
        api_key=cleanlist_sandbox.key,
        base_url=cleanlist_sandbox.v2,
        rate_limit_db_path=str(tmp_path / "rl.sqlite"),
    )
    with resource.get_client() as client:
        client.whoami()
    assert client.closed
    fresh = resource.get_client()  # a new one each time (e.g. every sensor tick)
    try:
        assert fresh is not client and not fresh.closed
    finally:
        fresh.close()
