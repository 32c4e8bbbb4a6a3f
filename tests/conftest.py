"""Shared test configuration. Sandbox fixtures come from the `cleanlist_pipeline.testing` plugin."""

from __future__ import annotations

import os

# Tests never talk to the real API, whatever the developer's shell exports.
os.environ.pop("CLEANLIST_API_KEY", None)
os.environ.pop("CLEANLIST_BASE_URL", None)
