"""STUB: the stack-output contract (issue 6)."""

from __future__ import annotations

from typing import Any


def build_outputs(settings, **components) -> dict[str, Any]:
    return {"environment": settings.environment.value}
