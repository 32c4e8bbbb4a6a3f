"""Fixtures for the end-to-end reliability proofs.

``deployment``: a fresh DAGSTER_HOME, drop folder and data folder whose runs talk to the session's
sandbox *process* (``cleanlist_sandbox`` from ``cleanlist_pipeline.testing``, reset per test)
through the API-key path, exactly as a production deployment talks to Cleanlist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import Deployment


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Deployment:
    """A deployment of the pipeline against the session sandbox (fresh state)."""
    return Deployment(root=tmp_path, base_url=cleanlist_sandbox.v2, api_key=cleanlist_sandbox.key)
