"""Shared fixtures: each stack's plan is made once per test session (the program under mocks), and
one policy pack process serves every gate run of the session (see `session_pack`).

A run of the whole suite is shared by two pytest-xdist workers (see `pytest_cmdline_main`); a session
is then one worker's, each planning the stacks and starting a pack once.

The project under test is the one pytest runs in, found as the CLI finds it (the nearest
Pulumi.yaml at or above the working directory): `PROJECT`, its `root`, its `stacks()`.
"""

from __future__ import annotations

import copy
import gc
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from chittyos_edge.config.stack_file import load_stack_file
from chittyos_edge.gate.client import PolicyPackProcess
from chittyos_edge.plan import make_plan
from chittyos_edge.project import Project

PROJECT = Project.discover()
ROOT = PROJECT.root

# The session is one long process that imports the provider SDK once and plans dozens of stacks.
# Python's full collections walked the SDK's objects again and again: 17 of the session's 29 s of
# CPU. Frozen after the import (the plans import it anyway), with young collections every 50,000
# allocations instead of 700, the collector costs under 3 s.
import pulumi_cloudflare  # noqa: E402,F401

gc.freeze()
gc.set_threshold(50_000, 10, 10)

# ---- two workers for the whole suite -----------------------------------------------------------
# The suite is about 75 s of CPU, and one process kept little more than one of CI's two cores busy: the
# backup round trip alone waits 12 s on one wrangler process after another. With pytest-xdist (in the
# test extras) a run of the whole suite goes to two workers: each plans the stacks and starts a pack once
# (about 10 s of CPU more), and the run takes 47 s instead of 64 on this 2-core machine. Tests named on
# the command line run in this process (starting workers costs more than it saves there); `-n 0` keeps
# any run in one process, and without pytest-xdist everything runs here as before.
WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    whole_suite = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    if (config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput") and whole_suite
            and config.option.numprocesses is None and not config.option.usepdb and not config.option.collectonly
            and _cores() >= WORKERS):
        config.option.numprocesses = WORKERS
        config.option.dist = "loadgroup"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The dev servers (`local_dev`) are started once, by the worker that runs every test using them.
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if "local_dev" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group("local_dev"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A plan the program refuses (a test of a refusal) leaves the SDK's futures holding the error; freed
    # at exit, asyncio would print each as "Future exception was never retrieved" with its traceback.
    gc.collect()


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


# Production grown past one rule's expression length: ChittyConnect gets long custom domains (health-checked)
# and long routes on api.chitty.cc, and a WAF rule of its own. Every rule covering it (the security headers,
# both managed rulesets, that WAF rule) is then deployed in parts; the rate limits cover Project Awareness only.
LONG_HOSTS = [f"{'a' * 55}-{i:03d}.{'b' * 63}.{'c' * 63}.chitty.cc" for i in range(12)]
LONG_ROUTES = [f"api.chitty.cc/{'connect-' * 30}{i}/*" for i in range(10)]


def many_hostnames(config: dict[str, Any]) -> None:
    prefix = "chittyos-edge:"
    connect = config[f"{prefix}services"]["chittyconnect"]
    connect["customDomains"] = [*connect["customDomains"], *LONG_HOSTS]
    connect["routes"] = [*connect.get("routes", []), *LONG_ROUTES]
    config[f"{prefix}monitoring"]["healthChecks"] += [{"name": f"long-host-{i}", "hostname": host}
                                                     for i, host in enumerate(LONG_HOSTS)]
    config[f"{prefix}edgeSecurity"]["wafCustomRules"].append({
        "ref": "connect_writes", "description": "Block PUT on the ChittyConnect API", "services": ["chittyconnect"],
        "action": "block", "expression": 'http.request.method eq "PUT" and starts_with(http.request.uri.path, "/v1/")'})


@pytest.fixture(scope="session")
def many_hostnames_plan() -> dict[str, Any]:
    return plan_with("production", many_hostnames)


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


def stack_view(plan: dict[str, Any], mutate: Callable[[dict[str, Any]], None] | None = None):
    """What the operations commands (dev, smoke, backup) load for a stack, from a session plan (planned
    from the stack file changed by `mutate`, when given)."""
    from chittyos_edge.config import parse_stack_config
    from chittyos_edge.ops.stack import StackView, settings_of
    from chittyos_edge.outputs.sources import parse_outputs

    stack = plan["stack"]
    if mutate is None:
        settings = settings_of(stack, PROJECT)
    else:
        config = stack_file_config(stack)
        mutate(config)
        prefix = "chittyos-edge:"
        settings = parse_stack_config({k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)},
                                      f"Pulumi.{stack}.yaml", stack)
    return StackView(stack, ROOT, settings, parse_outputs(plan["outputs"], stack=stack, origin="plan"),
                     "the offline plan")


@pytest.fixture(scope="session")
def local_dev(tmp_path_factory, staging):
    """`local_dev(service)`: that staging service under `chittyos-edge dev`, running the repo's reference
    bundle (staging's ChittyConnect runs live code, which is not in the repo), shared by the whole test
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
                started[key] = DevServer(view, key, state_dir, bundle=f"workers/{key}/worker.mjs")
            for server in started.values():
                server.wait_ready()
        return started[service]

    yield start
    for server in started.values():
        server.stop()


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


# ---- one policy pack for the session -----------------------------------------------------------

class SessionPack:
    """The session's policy pack process, started on first use (about a second of CPU per start)."""

    def __init__(self) -> None:
        self.pack_dir = PROJECT.policies_dir.resolve()
        self._pack: PolicyPackProcess | None = None

    def get(self) -> PolicyPackProcess:
        if self._pack is None:
            self._pack = PolicyPackProcess("chittyos-edge", "production", pack_dir=self.pack_dir).__enter__()
        return self._pack

    def close(self) -> None:
        if self._pack is not None:
            self._pack.close()


class _Borrowed:
    """What `run_gate` gets in place of a new pack process: the session's, which it must not stop."""

    def __init__(self, pack: PolicyPackProcess):
        self.pack = pack

    def launch(self) -> "_Borrowed":
        return self

    def __enter__(self) -> PolicyPackProcess:
        return self.pack

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def session_pack():
    holder = SessionPack()
    yield holder
    holder.close()


@pytest.fixture(scope="session")
def policy_pack(session_pack) -> PolicyPackProcess:
    """The session's running pack, for tests that drive it directly (`Gate(policy_pack)`)."""
    return session_pack.get()


def borrow_session_pack(monkeypatch: pytest.MonkeyPatch, holder: SessionPack) -> None:
    """Every gate run (`chittyos-edge gate`, `readiness`, `run_gate`) talks to the session's pack;
    a run given another pack folder (a broken pack under test) still starts its own."""
    from chittyos_edge.gate import runner

    start_own = runner.PolicyPackProcess

    def open_pack(project: str, stack: str, pack_dir: Path | None = None, **kwargs: Any):
        if pack_dir is not None and Path(pack_dir).resolve() != holder.pack_dir:
            return start_own(project, stack, pack_dir=pack_dir, **kwargs)
        return _Borrowed(holder.get())

    monkeypatch.setattr(runner, "PolicyPackProcess", open_pack)


@pytest.fixture(autouse=True)
def _gate_runs_use_the_session_pack(request, monkeypatch, session_pack) -> None:
    """Opt out with `@pytest.mark.own_pack` (the end-to-end test of the gate starting its pack)."""
    if request.node.get_closest_marker("own_pack") is None:
        borrow_session_pack(monkeypatch, session_pack)
