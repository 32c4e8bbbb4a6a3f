"""Local stand-in for the Cleanlist API (Starlette + SQLite): ``SandboxServer``, CLI, admin API.

Imports are lazy so ``import cleanlist_pipeline.sandbox`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cleanlist_pipeline.sandbox.embedded import EMBEDDED_API_KEY, ensure_embedded_sandbox
    from cleanlist_pipeline.sandbox.server import SandboxServer

__all__ = ["EMBEDDED_API_KEY", "SandboxServer", "ensure_embedded_sandbox"]


def __getattr__(name: str) -> Any:
    if name == "SandboxServer":
        from cleanlist_pipeline.sandbox.server import SandboxServer

        return SandboxServer
    if name in ("EMBEDDED_API_KEY", "ensure_embedded_sandbox"):
        from cleanlist_pipeline.sandbox import embedded

        return getattr(embedded, name)
    raise AttributeError(name)
