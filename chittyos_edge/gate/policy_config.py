"""Policy config per stack, two files in `policies/config/`:

- `<stack>.json`, the file `pulumi preview --policy-pack-config` takes: the pack's policies only;
- `<stack>.gate.json`: the levels of the gate's own rules (gate_rules.py), which are no policy of the
  pack and which the Pulumi CLI never reads. Without it, each gate rule is mandatory.

Both have the CLI's shape: `{"all": "<level>", "<name>": "<level>" | {"enforcementLevel": "<level>",
"<property>": ...}}`, and are reconciled as the CLI reconciles the first one (pulumi/pulumi,
pkg/resource/analyzer/config.go: `ReconcilePolicyPackConfig` and `applyConfig`, then
`validatePolicyPackConfig`/`validatePolicyConfig`): each policy starts from its own level and its
schema's defaults, then `all` sets every level, then each entry sets its policy's level and merges
its properties over the defaults; the result is validated against each policy's schema (`{"type":
"object", "properties": ..., "required": ...}`, JSON Schema).

Why the gate's rules are not in `<stack>.json`, and what the gate refuses on top of the CLI: the CLI
keeps an entry that names no policy of the pack (`applyConfig` copies it into the result, and the
validation walks the pack's policies only) and a property no schema declares (the schema it builds has
no `additionalProperties: false`); pulumi-policy's `Configure` (pulumi_policy/policy.py) stores both
and never reads them. So a misspelt name or property would silently configure nothing. And such an
entry given as an object without `enforcementLevel` reaches the pack with level "", which the CLI's
`analyzer.Configure` (sdk/go/common/resource/plugin/analyzer_plugin.go) refuses ("invalid enforcement
level"): `pulumi preview` fails. Hence: every name of `<stack>.json` is a policy of the pack, every
property is in that policy's schema, and the gate's rules have their own file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .client import PolicyInfo

VALID_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
ALL = "all"
GATE_SUFFIX = ".gate.json"

Reconciled = dict[str, tuple[str, dict[str, Any]]]


class PolicyConfigError(Exception):
    """The policy config file is missing or invalid: one line per problem, exit 2."""


def config_path(stack: str, directory: Path | None = None) -> Path:
    """`<directory>/<stack>.json`; by default the `policies/config/` of the project the working
    directory is in."""
    if directory is None:
        from ..project import Project

        directory = Project.discover().policy_config_dir
    return directory / f"{stack}.json"


def gate_config_path(stack: str, directory: Path) -> Path:
    """`<directory>/<stack>.gate.json`: the levels of the gate's own rules."""
    return directory / f"{stack}{GATE_SUFFIX}"


def load(stack: str, directory: Path | None = None) -> dict[str, Any]:
    path = config_path(stack, directory)
    try:
        return _read(path)
    except FileNotFoundError:
        raise PolicyConfigError(f"no policy config for stack {stack!r}: create {path}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
    return document


def _split(name: str, value: Any, where: str) -> tuple[str | None, dict[str, Any]]:
    """(level or None, properties) of one entry, refused as the CLI's parsePolicyPackConfig refuses it."""
    if isinstance(value, str):
        if value not in VALID_LEVELS:
            raise PolicyConfigError(f"{where}: {name}: {value!r} is not an enforcement level ({', '.join(VALID_LEVELS)})")
        return value, {}
    if isinstance(value, dict):
        props = dict(value)
        level = props.pop("enforcementLevel", None)
        if level is not None and level not in VALID_LEVELS:
            raise PolicyConfigError(f"{where}: {name}.enforcementLevel: {level!r} is not one of {', '.join(VALID_LEVELS)}")
        return level, props
    raise PolicyConfigError(f"{where}: {name}: must be an enforcement level or an object")


def reconcile(policies: Iterable[PolicyInfo], document: dict[str, Any], where: str) -> Reconciled:
    """Each policy's (level, properties), as the CLI would send them with Configure; refuses a name
    that is no policy and a property that is in no schema (see the module's docstring)."""
    import jsonschema

    policies = list(policies)
    by_name = {p.name: p for p in policies}
    problems = [_unknown(name, where, by_name) for name in document if name != ALL and name not in by_name]
    result: Reconciled = {}
    for policy in policies:
        defaults = {k: v["default"] for k, v in policy.config_schema.items() if isinstance(v, dict) and "default" in v}
        result[policy.name] = (policy.enforcement, defaults)
    if ALL in document:
        level, _ = _split(ALL, document[ALL], where)
        if level:
            result = {name: (level, props) for name, (_, props) in result.items()}
    for name, value in document.items():
        level, props = _split(name, value, where)
        if name == ALL or name not in by_name:
            continue
        problems += [f"{where}: {name}.{prop}: not a property of this policy (it has: "
                     f"{', '.join(sorted(by_name[name].config_schema)) or 'none'})"
                     for prop in props if prop not in by_name[name].config_schema]
        base_level, base_props = result[name]
        result[name] = (level or base_level, {**base_props, **props})
    for policy in policies:
        schema: dict[str, Any] = {"type": "object", "properties": {**policy.config_schema}}
        if policy.required:
            schema["required"] = list(policy.required)
        for error in jsonschema.Draft7Validator(schema).iter_errors(result[policy.name][1]):
            location = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{where}: {policy.name}{'.' + location if location else ''}: {error.message}")
    if problems:
        raise PolicyConfigError("\n".join(problems))
    return result


def _unknown(name: str, where: str, policies: dict[str, PolicyInfo]) -> str:
    from .gate_rules import GATE_RULES

    if Path(where).name.endswith(GATE_SUFFIX) or name not in {rule.name for rule in GATE_RULES}:
        return f"{where}: {name}: no such rule here; the rules are: {', '.join(sorted(policies))}"
    return (f"{where}: {name}: a rule of the gate, not a policy of the pack (the Pulumi CLI would pass it to the "
            f"pack for nothing): set its level in {Path(where).name.removesuffix('.json')}{GATE_SUFFIX}")


def gate_policies() -> list[PolicyInfo]:
    """The gate's own rules as the policies their config file is reconciled against: mandatory by default,
    no properties."""
    from .gate_rules import GATE_RULES

    return [PolicyInfo(name=rule.name, description=f"{rule.id}: {rule.title}", enforcement="mandatory",
                       severity=rule.severity, remediation=rule.remediation, tags=(rule.id,), checklist=rule.checklist,
                       kind="stack", config_schema={}, required=()) for rule in GATE_RULES]


def gate_levels(stack: str, directory: Path) -> dict[str, str]:
    """The level of each gate rule in this stack: `<stack>.gate.json` reconciled as above (every rule
    mandatory when the file is absent)."""
    path = gate_config_path(stack, directory)
    try:
        document = _read(path)
    except FileNotFoundError:
        document = {}
    return {name: level for name, (level, _) in reconcile(gate_policies(), document, str(path)).items()}
