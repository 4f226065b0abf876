"""The offline plan: the real program under Pulumi's mock runtime, every registration captured."""

from __future__ import annotations

from typing import Any

from ..project import Project
from .runtime import PlanError, dump_plan, run_plan, runtime_config
from .summary import summarize


def make_plan(stack: str, file_config: dict[str, Any] | None = None,
              project: Project | None = None) -> dict[str, Any]:
    """Plan one stack of `project` (default: the one the working directory is in). Bad config
    surfaces as ConfigError (run_plan unwraps the program's RunError)."""
    return run_plan(stack, project=project, file_config=file_config)


__all__ = ["PlanError", "dump_plan", "make_plan", "run_plan", "runtime_config", "summarize"]
