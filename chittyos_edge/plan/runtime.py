"""Run the real program in-process under Pulumi's mock runtime and return its plan.

The stack file is read as the CLI would read it; `secure:` values (which need the stack's
secrets provider to decrypt) and secrets that are not set yet become redacted placeholders
marked secret, so the program runs exactly as it would under `pulumi up`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .. import PROJECT
from ..config import ConfigError, parse_stack_config, required_secrets
from ..config.secrets import plain_secret_problems
from ..config.stack_file import StackFile, load_stack_file, namespace_problems
from ..project import Project
from .capture import CapturingMonitor
from .mocks import PlanMocks

PLAN_FORMAT_VERSION = 1


class PlanError(Exception):
    """The plan could not be made (unknown stack, unreadable stack file). One line, exit 2."""


def placeholder(path: str) -> str:
    return f"[secret:{path}]"


def read_stack_file(stack: str, project: Project | None = None) -> dict[str, Any]:
    """The `config:` mapping of the project's `Pulumi.<stack>.yaml` (unknown stacks are refused)."""
    return load_stack(stack, project).config


def load_stack(stack: str, project: Project | None = None) -> StackFile:
    """The project's `Pulumi.<stack>.yaml` through the strict loader: ConfigError, with file, line
    and key, on anything doubtful (see `chittyos_edge.config.stack_file`)."""
    project = project or Project.discover()
    return load_stack_file(project.stack_file(project.stack(stack)))


def _redact_secure(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.append(path)
            return placeholder(path)
        return {k: _redact_secure(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_secure(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], value)


def runtime_config(stack: str, project: Project | None = None,
                   file_config: dict[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """The config map and secret keys the engine would hand the program, secrets as placeholders.

    `file_config` replaces the stack file's `config:` mapping (tests plan variations with it).
    Raises ConfigError before anything is planned: keys outside the known namespaces, a secret
    key with a plain value, then every rule of the typed config.
    """
    if file_config is None:
        stack_file = load_stack(stack, project)
        try:
            return runtime_config(stack, project, stack_file.config)
        except ConfigError as error:
            raise ConfigError(stack_file.locate(error.problems)) from None
    encoded, secret_keys, _ = _checked_config(stack, file_config)
    return encoded, secret_keys


def _checked_config(stack: str, file_config: dict[str, Any]) -> tuple[dict[str, str], list[str], Any]:
    """`runtime_config` of a config mapping, with the typed settings it was checked against."""
    source = f"Pulumi.{stack}.yaml"
    problems = namespace_problems(file_config, source) + plain_secret_problems(file_config, source, PROJECT)
    if problems:
        raise ConfigError(problems)
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    prefix = f"{PROJECT}:"
    for full_key, value in file_config.items():
        found: list[str] = []
        short = full_key[len(prefix):] if full_key.startswith(prefix) else full_key
        values[full_key] = _redact_secure(value, short, found)
        if found:
            secret_keys.add(full_key)
    own = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
    settings = parse_stack_config(own, source, stack)
    for spec in required_secrets(settings):
        top = f"{prefix}{spec.top_key}"
        if "." in spec.path:
            tree = values.setdefault(top, {})
            _set_path(tree, spec.path.split(".", 1)[1], placeholder(spec.path))
        else:
            values.setdefault(top, placeholder(spec.path))
        secret_keys.add(top)
    encoded = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list))
               else str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
    return encoded, sorted(secret_keys), settings


def _reset_runtime() -> None:
    from pulumi.runtime import settings

    settings.set_root_resource(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """The SDK walks and formats the whole call stack at every registration to tell the engine where
    the resource was declared (a sixth of a plan's time). The offline monitor never reads it, and it
    is not in the plan, so the plan skips it; `pulumi up` is unaffected."""
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:  # another SDK version: nothing to skip
        yield
        return
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


def run_plan(stack: str, program: Callable[[], dict[str, Any]] | None = None,
             project: Project | None = None, file_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plan one stack of `project` (default: the one the working directory is in); returns the plan
    document (see README, 'The plan format'). `program` replaces the real one (tests).

    Every ConfigError, including those the program raises under the engine, comes out with the
    line of each key in the stack file read (none for a `file_config` given in memory).
    """
    project = project or Project.discover()
    stack_file = load_stack(stack, project) if file_config is None else None

    def located(problems: list[str]) -> ConfigError:
        return ConfigError(stack_file.locate(problems) if stack_file else problems)

    try:
        # The config is checked before the program (and the provider SDK it imports) is loaded:
        # a bad stack file fails in a fraction of a second.
        config, secret_keys, settings = _checked_config(stack, stack_file.config if stack_file else file_config)
    except ConfigError as error:
        raise located(error.problems) from None
    import pulumi

    if program is None:
        from ..program import main

        def program() -> dict[str, Any]:
            return main(project)
    from .mocks import deployed_before_canary

    try:
        return _run(stack, program, config, secret_keys, deployed_before_canary(settings))
    except pulumi.RunError as error:
        # The program refused its config (a ConfigError raised under the engine, one problem a line).
        raise located(str(error).splitlines()) from None


def _run(stack: str, program: Callable[[], dict[str, Any]], config: dict[str, str],
         secret_keys: list[str], live_scripts: dict[str, str] | None = None) -> dict[str, Any]:
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import set_all_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    zone = json.loads(config.get(f"{PROJECT}:zone", "{}")).get("name", "")
    mocks = PlanMocks(zone_name=zone, live_scripts=live_scripts)
    monitor = CapturingMonitor(mocks)
    _reset_runtime()
    set_all_config(config, secret_keys)
    pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    resolved: dict[str, Any] = {}

    async def run() -> None:
        outputs = program() or {}
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            resolved[key] = (await out.future(), await out.is_secret())

    with _without_source_positions():
        _sync_await(run_pulumi_func(run))

    stack_outputs = {key: placeholder(key) if is_secret else _plain(value)
                     for key, (value, is_secret) in sorted(resolved.items())}
    return {
        "formatVersion": PLAN_FORMAT_VERSION,
        "project": PROJECT,
        "stack": stack,
        "resources": in_tree_order(monitor.records),
        "outputs": stack_outputs,
    }


def in_tree_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registrations arrive from worker threads in no fixed order: list each parent before its
    children and siblings by URN, so two runs give the same document."""
    by_urn = {r["urn"]: r for r in records}

    def lineage(record: dict[str, Any]) -> tuple[str, ...]:
        chain = []
        current: dict[str, Any] | None = record
        while current is not None:
            chain.append(current["urn"])
            current = by_urn.get(current["parent"] or "")
        return tuple(reversed(chain))

    return sorted(records, key=lineage)


def _plain(value: Any) -> Any:
    """Outputs as JSON values, numbers kept integral, key order fixed."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def dump_plan(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


__all__ = ["ConfigError", "PlanError", "dump_plan", "run_plan", "runtime_config"]
