"""base_url handling: both prefixes, origin-derived v1-only paths, status URLs resolved against
the origin, and plain http:// refused except for loopback hosts."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from cleanlist_pipeline.api import CleanlistClient, ConfigurationError
from cleanlist_pipeline.api.client import DEFAULT_BASE_URL, split_base_url

STATUS = {"workflow_id": "bulk-enrich-1", "status": "running"}


def test_default_base_url_is_the_documented_one() -> None:
    assert DEFAULT_BASE_URL == "https://api.cleanlist.ai/api/v1/public"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.cleanlist.ai/api/v1/public", ("https://api.cleanlist.ai", "/api/v1/public")),
        ("https://api.cleanlist.ai/api/v2/", ("https://api.cleanlist.ai", "/api/v2")),
        ("https://gw.example.com/cl/api/v2", ("https://gw.example.com/cl", "/api/v2")),
        ("http://localhost:8000/api/v2", ("http://localhost:8000", "/api/v2")),
        ("http://[::1]:8000/api/v2", ("http://[::1]:8000", "/api/v2")),
    ],
)
def test_split_base_url(url: str, expected: tuple[str, str]) -> None:
    assert split_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://api.cleanlist.ai/api/v2", "http://10.0.0.5/api/v2", "ftp://api.cleanlist.ai/api/v2"],
)
def test_plain_http_to_remote_hosts_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        CleanlistClient("clapi_x", url, rate_limit=None)


@pytest.mark.parametrize(
    "base", ["https://api.cleanlist.ai/api/v2", "https://api.cleanlist.ai/api/v1/public"]
)
def test_validate_key_path_derives_from_origin(
    base: str, mock_client: Callable[..., CleanlistClient]
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"valid": True})

    assert mock_client(handler, base_url=base).validate_key().valid
    assert seen == ["/api/v1/public/auth/validate-key"]


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        ("bulk-enrich-1", "/api/v2/enrichment/status/bulk-enrich-1"),
        ("cl-task_abc", "/api/v2/enrichment/status/cl-task_abc"),
        (
            "/api/v1/public/enrichment/status/bulk-enrich-1",
            "/api/v1/public/enrichment/status/bulk-enrich-1",
        ),
        (
            "https://api.cleanlist.ai/api/v2/enrichment/status/bulk-enrich-1",
            "/api/v2/enrichment/status/bulk-enrich-1",
        ),
    ],
)
def test_enrichment_status_accepts_ids_handles_and_urls(
    ref: str, path: str, mock_client: Callable[..., CleanlistClient]
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=STATUS)

    assert mock_client(handler).enrichment_status(ref).status == "running"
    assert seen == [path]


def test_status_url_host_is_ignored_so_the_key_stays_home(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=STATUS)

    client = mock_client(handler)
    client.enrichment_status("https://evil.example.com/api/v2/enrichment/status/x")
    assert seen == ["https://api.cleanlist.ai/api/v2/enrichment/status/x"]


def test_status_url_keeps_a_proxy_root_path(mock_client: Callable[..., CleanlistClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=STATUS)

    client = mock_client(handler, base_url="https://gw.example.com/cleanlist/api/v1/public")
    client.enrichment_status("/api/v1/public/enrichment/status/bulk-enrich-1")
    assert seen == [
        "https://gw.example.com/cleanlist/api/v1/public/enrichment/status/bulk-enrich-1"
    ]


def test_csv_import_always_sends_dispatch_flag_and_key(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    import json

    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(
            201, json={"list_id": "l", "rows_parsed": 1, "rows_imported": 1, "rows_skipped": 0}
        )

    mock_client(handler).csv_import(
        "l", b"email\na@b.co\n", {"email": "email"}, idempotency_key="k"
    )
    assert bodies[0]["dispatch_enrichment"] is False
    assert bodies[0]["idempotency_key"] == "k"
    assert bodies[0]["csv_content_base64"] == "ZW1haWwKYUBiLmNvCg=="
    with pytest.raises(TypeError):
        mock_client(handler).csv_import("l", b"x", {"email": "email"})  # type: ignore[call-arg]
