"""The deployment's API key is sent only to the origin the deployment configured.

Anyone who can launch a run can give run config; a `base_url` there must not redirect the
deployment's key. A recording server on another loopback port stands in for the attacker's host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.dagster_layer.resources import (
    CleanlistResource,
    TargetRefused,
    cleanlist_of,
)
from cleanlist_pipeline.settings import Settings

DEPLOYMENT_KEY = "clapi_deployment_secret_0123456789"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization") or "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        body = (
            b'{"user_email":null,"organization_id":"o","auth_type":"api_key",'
            b'"scopes":["*"],"tier":"free","features":[]}'
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/public", _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def _defs(settings: Settings) -> tuple[dg.Definitions, dg.AssetKey]:
    names = settings.names

    @dg.asset(required_resource_keys={names.resource})
    def whoami(context) -> str:  # type: ignore[no-untyped-def]
        with cleanlist_of(context, names).get_client() as client:
            return client.whoami().organization_id

    resource = CleanlistResource.from_settings(settings)
    return dg.Definitions(assets=[whoami], resources={names.resource: resource}), whoami.key


def _run(
    defs: dg.Definitions, key: dg.AssetKey, config: dict[str, Any]
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        run_config={"resources": {"cleanlist": {"config": config}}}, raise_on_error=False
    )


def test_a_run_config_base_url_cannot_take_the_deployment_key_elsewhere(
    cleanlist_sandbox: Any, attacker: tuple[str, list[str]]
) -> None:
    url, seen = attacker
    settings = Settings(api_key=DEPLOYMENT_KEY, base_url=cleanlist_sandbox.v1)
    defs, key = _defs(settings)

    refused = _run(defs, key, {"base_url": url})
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_failure)
    text = str(failure.event_specific_data)
    assert "is not the API origin this deployment configured" in text
    assert DEPLOYMENT_KEY not in text
    assert seen == []  # not one request reached the other host

    # Run config that brings its own key may point it anywhere: only that key travels.
    own = _run(defs, key, {"base_url": url, "api_key": "clapi_run_config_key"})
    assert own.success
    assert seen and all(h == "Bearer clapi_run_config_key" for h in seen)
    assert not any(DEPLOYMENT_KEY in h for h in seen)


def test_other_run_config_fields_keep_the_pinned_key_and_origin(cleanlist_sandbox: Any) -> None:
    key = cleanlist_sandbox.add_key()
    settings = Settings(api_key=key, base_url=cleanlist_sandbox.v1)
    defs, asset_key = _defs(settings)
    # Supplying any field rebuilds the resource from run config; the pin lives in its class.
    result = _run(defs, asset_key, {"max_attempts": 2, "rate_limit_per_key": 0})
    assert result.success
    assert result.output_for_node("whoami")
    resource = CleanlistResource.from_settings(settings)
    assert resource.describe_target() == f"api at {cleanlist_sandbox.v1}"
    assert key not in repr(resource) and key not in repr(type(resource).deployment)


def test_the_same_origin_is_allowed_and_an_embedded_deployment_refuses_any_url(
    cleanlist_sandbox: Any, attacker: tuple[str, list[str]]
) -> None:
    url, seen = attacker
    resource = CleanlistResource.from_settings(
        Settings(api_key=DEPLOYMENT_KEY, base_url=cleanlist_sandbox.v1)
    )
    same_origin = resource.model_copy(update={"base_url": cleanlist_sandbox.origin + "/api/v2"})
    assert same_origin.describe_target() == f"api at {cleanlist_sandbox.origin}/api/v2"

    embedded = CleanlistResource.from_settings(Settings()).model_copy(update={"base_url": url})
    with pytest.raises(TargetRefused, match="embedded sandbox"):
        embedded.get_client()
    assert seen == []


def test_two_instances_never_share_a_key() -> None:
    a = CleanlistResource.from_settings(
        Settings(name="a", api_key="clapi_a", base_url="https://a.example/api/v1/public")
    )
    b = CleanlistResource.from_settings(
        Settings(name="b", api_key="clapi_b", base_url="https://b.example/api/v1/public")
    )
    assert type(a).deployment is not None and type(b).deployment is not None
    assert type(a).deployment.api_key == "clapi_a" and type(b).deployment.api_key == "clapi_b"
    # rebuilding from run config (what Dagster does) keeps each class's own pin
    assert type(a)(max_attempts=1).describe_target() == "api at https://a.example/api/v1/public"
    assert type(b)(max_attempts=1).describe_target() == "api at https://b.example/api/v1/public"
