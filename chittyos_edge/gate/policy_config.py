"""Policy config per stack: `policies/config/<stack>.json`, the file `pulumi preview
--policy-pack-config` takes, reconciled the way the Pulumi CLI reconciles it.

Shape: `{"all": "<level>", "<policy>": "<level>" | {"enforcementLevel": "<level>", "<property>": ...}}`.
Reconciling (as the CLI's ReconcilePolicyPackConfig): each policy starts from its own level and its
schema's defaults, then `all` sets every level, then each policy's entry overrides; the result is
validated against each policy's config schema. Entries naming the gate's own rules (which the
Analyzer protocol cannot express, see gate_rules.py) are read by the gate and ignored by the pack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .client import PolicyInfo

VALID_LEVELS = ("advisory", "mandatory", "remediate", "disabled")

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


def load(stack: str, directory: Path | None = None) -> dict[str, Any]:
    path = config_path(stack, directory)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyConfigError(f"no policy config for stack {stack!r}: create {path}") from None
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
    return document


def _split(name: str, value: Any, where: str) -> tuple[str | None, dict[str, Any]]:
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


def reconcile(policies: Iterable[PolicyInfo], document: dict[str, Any], where: str,
              extra_names: Iterable[str] = ()) -> Reconciled:
    """Each known policy's (level, properties), as the CLI would send them with Configure."""
    import jsonschema

    policies = list(policies)
    known = {p.name for p in policies} | set(extra_names)
    unknown = sorted(set(document) - known - {"all"})
    if unknown:
        raise PolicyConfigError(f"{where}: unknown policies {unknown}; the pack has: {', '.join(sorted(known))}")
    result: Reconciled = {}
    for policy in policies:
        defaults = {k: v["default"] for k, v in policy.config_schema.items() if isinstance(v, dict) and "default" in v}
        result[policy.name] = (policy.enforcement, defaults)
    if "all" in document:
        level, _ = _split("all", document["all"], where)
        if level:
            result = {name: (level, props) for name, (_, props) in result.items()}
    for name, value in document.items():
        if name == "all":
            continue
        level, props = _split(name, value, where)
        base_level, base_props = result.get(name, (document_level(document), {}))
        result[name] = (level or base_level, {**base_props, **props})
    problems = []
    for policy in policies:
        schema = {"type": "object", "properties": {**policy.config_schema}}
        if policy.required:
            schema["required"] = list(policy.required)
        for error in jsonschema.Draft7Validator(schema).iter_errors(result[policy.name][1]):
            location = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{where}: {policy.name}{'.' + location if location else ''}: {error.message}")
    if problems:
        raise PolicyConfigError("\n".join(problems))
    return result


def document_level(document: dict[str, Any]) -> str:
    """The level a rule not in the pack (a gate rule) gets when its entry sets none."""
    all_level = document.get("all")
    return all_level if isinstance(all_level, str) else "mandatory"


def rule_level(document: dict[str, Any], name: str, where: str) -> str:
    """The level of one gate rule from a policy config document, without the pack (its own entry, else `all`)."""
    if name in document:
        level, _ = _split(name, document[name], where)
        if level:
            return level
    return document_level(document)
