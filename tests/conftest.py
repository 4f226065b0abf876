"""Shared fixtures: each stack's plan is made once per test session (the program under mocks).

The project under test is the one pytest runs in, found as the CLI finds it (the nearest
Pulumi.yaml at or above the working directory): `PROJECT`, its `root`, its `stacks()`.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from chittyos_edge.config.stack_file import load_stack_file
from chittyos_edge.plan import make_plan
from chittyos_edge.project import Project

PROJECT = Project.discover()
ROOT = PROJECT.root


def copy_project(dest: Path) -> Project:
    """A second checkout of this project at `dest` (its files, not its virtualenvs or node_modules)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "node_modules", "__pycache__", "*.egg-info", ".pytest_cache", "build", "plans"))
    return Project.at(dest)


def stack_file_config(stack: str) -> dict[str, Any]:
    """A fresh, mutable copy of a stack file's `config:` mapping (read by the strict loader)."""
    return copy.deepcopy(load_stack_file(PROJECT.stack_file(stack)).config)


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    return {stack: make_plan(stack) for stack in PROJECT.stacks()}


@pytest.fixture(scope="session")
def production(plans) -> dict[str, Any]:
    return plans["production"]


@pytest.fixture(scope="session")
def staging(plans) -> dict[str, Any]:
    return plans["staging"]


def resources(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    """Registered resources of one type token, e.g. 'cloudflare:index/r2Bucket:R2Bucket'."""
    return [r for r in plan["resources"] if r["type"] == type_token]


def resource(plan: dict[str, Any], type_token: str, name: str) -> dict[str, Any]:
    """The one resource of that type whose Pulumi name is `name` (fails listing the names there are)."""
    found = [r for r in resources(plan, type_token) if r["name"] == name]
    names = sorted(r["name"] for r in resources(plan, type_token))
    assert len(found) == 1, f"expected one {type_token} named {name!r}; registered: {names}"
    return found[0]


def plan_with(stack: str, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Plan a variation of a stack: `mutate` edits a copy of its stack file's config in place."""
    config = stack_file_config(stack)
    mutate(config)
    return make_plan(stack, file_config=config)


def config_problems(stack: str, mutate: Callable[[dict[str, Any]], None]) -> list[str]:
    """The ConfigError lines a mutated copy of a stack file produces (pure config: no Pulumi runtime)."""
    from chittyos_edge.config import ConfigError, parse_stack_config

    prefix = "chittyos-edge:"
    config = stack_file_config(stack)
    mutate(config)
    raw = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, f"Pulumi.{stack}.yaml")
    return caught.value.problems


PINNED_SHA256 = "ab" * 32


def uploaded_code(stack: str, service_key: str) -> Callable[[dict[str, Any]], None]:
    """A mutation giving a service code this program uploads (a WorkerVersion): the reference bundle in
    staging, a pinned build (offline, only its hash is needed) in production. The committed stacks run
    ChittyConnect's live code, which uploads nothing."""
    def mutate(config: dict[str, Any]) -> None:
        service = config["chittyos-edge:services"][service_key]
        if stack == "staging":
            service["code"] = {"source": "reference", "bundle": f"workers/{service_key}/worker.mjs"}
        else:
            service["code"] = {"source": "build", "bundle": f"dist/{service_key}/worker.mjs", "sha256": PINNED_SHA256,
                               "fetch": f"make fetch-{service_key}"}
    return mutate


@pytest.fixture(scope="session")
def built() -> dict[str, dict[str, Any]]:
    """Both stacks with ChittyConnect's code uploaded by this program (the committed stacks keep it live)."""
    return {stack: plan_with(stack, uploaded_code(stack, "chittyconnect")) for stack in ("staging", "production")}
