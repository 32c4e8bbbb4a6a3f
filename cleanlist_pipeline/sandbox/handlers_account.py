"""Who is calling: ``GET /whoami`` and the legacy v1 ``GET /auth/validate-key``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.context import Ctx, json_response


def mask_email(email: str | None) -> str | None:
    """``sam.sandbox@example.com`` → ``s***@example.com`` (api_key auth never sees it whole)."""
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


async def whoami(request: Request, ctx: Ctx) -> Response:
    """GET /whoami (free, any scope)."""
    c = ctx.db.conn()
    user = c.execute(
        "SELECT first_name, last_name, email FROM users WHERE id=?", (ctx.user_id,)
    ).fetchone() or (None, None, None)
    org = c.execute("SELECT name FROM orgs WHERE id=?", (ctx.org_id,)).fetchone()
    name = " ".join(p for p in user[:2] if p) or None
    return json_response(
        {
            "user_email": mask_email(user[2]),
            "user_id": ctx.user_id,
            "user_name": name,
            "organization_id": ctx.org_id,
            "organization_name": org[0] if org else None,
            "auth_type": "api_key",
            "scopes": list(ctx.scopes),
            "tier": "pro",
            "appsumo_tier": None,
            "features": ["api_access", "csv_import", "enrichment", "lead_lists"],
            "timestamp_ms": ctx.ts_ms,
        }
    )


async def validate_key(request: Request, ctx: Ctx) -> Response:
    """GET /api/v1/public/auth/validate-key (legacy, v1 only)."""
    return json_response({"valid": True, "user_id": ctx.user_id, "organization_id": ctx.org_id})
