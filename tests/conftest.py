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


def stack_view(plan: dict[str, Any]):
    """What the operations commands (dev, smoke, backup) load for a stack, from a session plan."""
    from chittyos_edge.ops.stack import StackView, settings_of
    from chittyos_edge.outputs.sources import parse_outputs

    stack = plan["stack"]
    return StackView(stack, ROOT, settings_of(stack, PROJECT),
                     parse_outputs(plan["outputs"], stack=stack, origin="plan"), "the offline plan")


@pytest.fixture(scope="session")
def local_dev(tmp_path_factory, staging):
    """`local_dev(service)`: that staging service under `chittyos-edge dev`, shared by the whole test
    session. The first call starts every staging service at once (their starts overlap); they share
    one state dir, as the stack's Workers share its stores."""
    from tests.local_dev import DevServer

    state_dir = tmp_path_factory.mktemp("local-staging")
    view = stack_view(staging)
    started: dict[str, DevServer] = {}

    def start(service: str) -> DevServer:
        if not started:
            # services without D1 migrations first: their wrangler boots while the others migrate
            order = sorted(view.settings.services, key=lambda k: bool(view.settings.services[k].bindings.d1))
            for key in order:
                started[key] = DevServer(view, key, state_dir)
            for server in started.values():
                server.wait_ready()
        return started[service]

    yield start
    for server in started.values():
        server.stop()
