"""Helpers for sandbox behaviour tests: SDK-model validation and prefixed clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cleanlist_pipeline.testing import SandboxHandle


@pytest.fixture(params=["v1", "v2"])
def api(request: pytest.FixtureRequest, cleanlist_sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    """An authenticated client on each prefix in turn."""
    with cleanlist_sandbox.client(request.param) as client:
        yield client
