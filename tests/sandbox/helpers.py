"""Assertions shared by the sandbox tests."""

from __future__ import annotations

import base64
from typing import Any


def check_model(model: Any, body: dict[str, Any]) -> Any:
    """Validate ``body`` with the SDK model and assert it carries no field the model lacks."""
    fields = set(model.model_fields)
    for _name, info in model.model_fields.items():
        if info.alias:
            fields.add(info.alias)
    fields.discard("additional_properties")
    extra = set(body) - fields
    assert not extra, f"{model.__name__} has no fields {sorted(extra)}"
    parsed = model.from_dict(body)
    assert parsed is not None
    return parsed


def b64(text: str | bytes) -> str:
    """Standard base64 of a CSV text (UTF-8)."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()
