"""Locations never carry secrets, and personal data never crosses a network in clear.

Issue 11: case 8 (a Redis password in a repr; a ``CLEANLIST_DATA_DIR`` with credentials accepted
and printed) and case 11 (object stores over plain http off loopback). Every refusal is checked
where a user meets it — the CLI's exit and message, the Dagster definitions failing to load, the
storage call — and the secret appears in no message. The insecure escape hatch
(``CLEANLIST_ALLOW_INSECURE_OBJECT_STORE``) is proved against a real S3 server (moto) reached
through a name that is not a literal loopback name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from cleanlist_pipeline.api.ratelimit import RateLimitConfig
from cleanlist_pipeline.cli.commands import main
from cleanlist_pipeline.definitions import build_definitions
from cleanlist_pipeline.drop_scan import scan_drops
from cleanlist_pipeline.settings import Settings, settings_from_env
from cleanlist_pipeline.storage import read_snapshot, write_leads_snapshot
from cleanlist_pipeline.uris import UnsafeURIError
from tests.moto_s3 import moto_s3

SECRET = "wJalrXUtnFEMI-K7MDENG-canary"
ACCESS = "AKIACANARY0000000000"
CREDS_URI = f"s3://{ACCESS}:{SECRET}@bucket/cleanlist?region=us-east-1"
REDIS = "redis://default:redis-canary-password@redis.internal:6379/0"
INSECURE = "s3://bucket/cleanlist?endpoint_override=minio.internal:9000&scheme=http"
AT = datetime(2026, 3, 14, 12, tzinfo=UTC)
PAGE = [[{"lead_id": "ld_1", "email": "a@example.com"}, {"lead_id": "ld_2"}]]


def _clean(text: str) -> None:
    assert SECRET not in text and ACCESS not in text and "redis-canary-password" not in text, text


# --- case 8: reprs -------------------------------------------------------------------------


def test_redis_password_is_in_no_repr_of_the_config_objects() -> None:
    config = RateLimitConfig(backend="redis", redis_url=REDIS)
    settings = Settings(redis_url=REDIS, rate_limit_backend="redis")
    for text in (repr(config), str(config), repr(settings), str(settings)):
        _clean(text)
    assert "backend='redis'" in repr(config)  # the repr still says what it is


# --- case 8: a data dir with credentials ---------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_cli_refuses_a_data_dir_with_credentials(how: str, tmp_path: os.PathLike[str]) -> None:
    args = ["snapshot", "--list-id", "lst_1"]
    env = {"DAGSTER_HOME": str(tmp_path), "CLEANLIST_API_KEY": ""}
    if how == "flag":
        args += ["--data-dir", CREDS_URI]
    else:
        env["CLEANLIST_DATA_DIR"] = CREDS_URI
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    assert "CLEANLIST_DATA_DIR" in result.output and "carries credentials" in result.output
    assert "s3://bucket/cleanlist" in result.output  # named, without what it must not show
    _clean(result.output)


def test_definitions_refuse_a_data_dir_with_credentials() -> None:
    with pytest.raises(UnsafeURIError, match=r"CLEANLIST_DATA_DIR .* carries credentials") as info:
        build_definitions(settings_from_env({"CLEANLIST_DATA_DIR": CREDS_URI}))
    _clean(str(info.value))


def test_storage_refuses_credentials_before_writing(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(UnsafeURIError) as info:
        write_leads_snapshot(PAGE, CREDS_URI, "lst_1", AT)
    _clean(str(info.value))


def test_a_drops_uri_with_credentials_is_refused_by_the_same_rule() -> None:
    with pytest.raises(UnsafeURIError, match=r"CLEANLIST_DROPS_DIR .* carries credentials") as info:
        scan_drops(CREDS_URI)
    _clean(str(info.value))


# --- case 11: plain http to an object store ------------------------------------------------


def test_plain_http_object_store_off_loopback_is_refused_everywhere(
    tmp_path: os.PathLike[str],
) -> None:
    with pytest.raises(UnsafeURIError, match="CLEANLIST_ALLOW_INSECURE_OBJECT_STORE"):
        write_leads_snapshot(PAGE, INSECURE, "lst_1", AT)
    with pytest.raises(UnsafeURIError, match=r"minio\.internal"):
        scan_drops(INSECURE)
    with pytest.raises(UnsafeURIError, match=r"CLEANLIST_DATA_DIR .* plain http"):
        build_definitions(settings_from_env({"CLEANLIST_DATA_DIR": INSECURE}))
    # No endpoint_override with scheme=http is the provider's own endpoint in clear.
    with pytest.raises(UnsafeURIError, match="plain http"):
        write_leads_snapshot(PAGE, "s3://bucket/x?scheme=http", "lst_1", AT)
    result = CliRunner().invoke(
        main,
        ["snapshot", "--list-id", "lst_1", "--data-dir", INSECURE],
        env={"DAGSTER_HOME": str(tmp_path), "CLEANLIST_API_KEY": ""},
    )
    assert result.exit_code == 2 and "plain http" in result.output, result.output


def test_the_setting_reaches_the_definitions() -> None:
    env = {"CLEANLIST_DATA_DIR": INSECURE, "CLEANLIST_ALLOW_INSECURE_OBJECT_STORE": "1"}
    settings = settings_from_env(env)
    assert settings.allow_insecure_object_store
    defs = build_definitions(settings)  # loads: the user said so
    io_manager = defs.resources[settings.names.io_manager]
    assert io_manager.allow_insecure_object_store is True


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[tuple[str, int]]:
    """A moto S3 server on 127.0.0.1 with bucket ``plain``; yields (host, port)."""
    with moto_s3("plain") as endpoint:
        yield endpoint


def test_allow_insecure_object_store_lets_a_named_http_endpoint_through(
    moto_endpoint: tuple[str, int],
) -> None:
    """``localhost.`` (a fully qualified name, resolved by the system) is not a literal loopback
    name, so it stands for any host on the network: refused, then written once allowed."""
    _host, port = moto_endpoint
    root = f"s3://plain/lake?endpoint_override=localhost.:{port}&scheme=http&region=us-east-1"
    with pytest.raises(UnsafeURIError, match=r"plain http at localhost\."):
        write_leads_snapshot(PAGE, root, "lst_1", AT)
    result = write_leads_snapshot(PAGE, root, "lst_1", AT, allow_insecure=True)
    assert read_snapshot(result.path, allow_insecure=True).num_rows == 2
    # A literal loopback endpoint needs no permission (the sandboxes and tests use it).
    loopback = f"s3://plain/lake2?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    assert write_leads_snapshot(PAGE, loopback, "lst_1", AT).rows == 2
