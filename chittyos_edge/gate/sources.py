"""What the gate checks, as one shape: a stack's resource records, whatever they came from.

- a plan made now (`--stack S`), or a saved plan file (`--plan FILE`, the foundation's format);
- a `pulumi stack export` of a deployed stack (`--state FILE`, deployment version 3).

Each record keeps the plan's fields (urn, type, name, parent, custom, inputs, dependencies,
propertyDependencies, protect, retainOnDelete, deleteBeforeReplace, importId, secretInputs) and
adds what the engine would hand `AnalyzeStack`: the resource's `outputs` (with its `id`) and
`secretOutputs`. For a plan, outputs are what the offline plan's mocks answered (the same
functions, so ids match the ones the bindings were wired with).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import PROJECT

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
PLAN_KEYS = ("urn", "type", "name", "parent", "custom", "inputs", "dependencies", "propertyDependencies",
             "protect", "retainOnDelete", "deleteBeforeReplace", "importId", "secretInputs")


class SourceError(Exception):
    """A plan or state file the gate cannot read: one line, exit 2."""


@dataclass
class StackInput:
    stack: str
    project: str
    origin: str  # "plan of staging", "plan file x.json", "state file y.json"
    resources: list[dict[str, Any]]


def _where(path: Path, what: str) -> str:
    return f"{what} on stdin" if str(path) == "-" else f"{what} {path}"


def _read_json(path: Path, what: str) -> Any:
    """The JSON document in `path`, or on stdin when `path` is `-`."""
    if str(path) == "-":
        return _parse_json(sys.stdin.read(), _where(path, what))
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SourceError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{what} {path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise SourceError(f"{what} {path}: not a text file (expected JSON)") from None
    return _parse_json(text, _where(path, what))


def _parse_json(text: str, where: str) -> Any:
    if not text.strip():
        raise SourceError(f"{where}: {'no input' if where.endswith(' on stdin') else 'the file is empty'}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        hint = " (truncated?)" if error.pos >= len(text.rstrip()) - 1 else ""
        raise SourceError(f"{where}: not valid JSON{hint}: {error.msg} at line {error.lineno} "
                          f"column {error.colno}") from None


def _stack_of(name: Any, where: str, stacks: Sequence[str] | None) -> str:
    """The source's stack, which must be one of the project's `stacks` (any name when None)."""
    if not isinstance(name, str) or not name or (stacks is not None and name not in stacks):
        known = (", ".join(stacks) or "none") if stacks is not None else "named by Pulumi.<stack>.yaml"
        raise SourceError(f"{where}: unknown stack {name!r}; this project's stacks are {known}")
    return name


# ---- plans ---------------------------------------------------------------------------------

def plan_outputs(record: dict[str, Any]) -> dict[str, Any]:
    """The outputs the offline plan's mocks gave this resource (custom resources only)."""
    from ..plan.mocks import PlanMocks

    rid, outputs = PlanMocks(zone_name="").outputs_of(record)
    outputs["id"] = rid
    return outputs


def from_plan(plan: Any, origin: str, stacks: Sequence[str] | None = None) -> StackInput:
    """Check a plan document's shape (a plan of one of `stacks`) and turn it into the gate's input."""
    if not isinstance(plan, dict):
        raise SourceError(f"{origin}: not a plan (expected a JSON object with formatVersion, stack, resources)")
    if "deployment" in plan:
        raise SourceError(f"{origin}: this is a `pulumi stack export`; gate it with --state")
    missing = [k for k in ("formatVersion", "project", "stack", "resources") if k not in plan]
    if missing:
        raise SourceError(f"{origin}: not a chittyos-edge plan: missing {', '.join(missing)} "
                          "(make one with `chittyos-edge plan --out FILE`)")
    from ..plan.runtime import PLAN_FORMAT_VERSION

    if plan["formatVersion"] != PLAN_FORMAT_VERSION:
        raise SourceError(f"{origin}: plan formatVersion {plan['formatVersion']!r} is not supported "
                          f"(this gate reads {PLAN_FORMAT_VERSION}); re-make it with `chittyos-edge plan`")
    if plan["project"] != PROJECT:
        raise SourceError(f"{origin}: plan of project {plan['project']!r}, not {PROJECT!r}")
    stack = _stack_of(plan["stack"], origin, stacks)
    if not isinstance(plan["resources"], list):
        raise SourceError(f"{origin}: 'resources' must be a list of resource records")
    resources = []
    for index, record in enumerate(plan["resources"]):
        if not isinstance(record, dict):
            raise SourceError(f"{origin}: resources[{index}] is not a resource record")
        absent = [k for k in PLAN_KEYS if k not in record]
        if absent:
            raise SourceError(f"{origin}: resources[{index}] lacks {', '.join(absent)} (truncated or foreign plan?)")
        if not isinstance(record["inputs"], dict) or not str(record["urn"]).startswith("urn:pulumi:"):
            raise SourceError(f"{origin}: resources[{index}] has a malformed urn or inputs")
        entry = dict(record)
        entry["outputs"] = plan_outputs(record) if record["custom"] else dict(record["inputs"])
        entry["secretOutputs"] = list(record["secretInputs"])
        resources.append(entry)
    return StackInput(stack=stack, project=plan["project"], origin=origin, resources=resources)


def from_plan_file(path: Path, stacks: Sequence[str] | None = None) -> StackInput:
    return from_plan(_read_json(path, "plan file"), _where(path, "plan file"), stacks)


# ---- pulumi stack export -------------------------------------------------------------------

def _unwrap_secrets(value: Any, path: str, found: list[str]) -> Any:
    """State secrets are `{sig: secret, ciphertext | plaintext}`: keep the path, redact the value."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            found.append(path)
            if "plaintext" in value:
                try:
                    return json.loads(value["plaintext"])
                except (TypeError, json.JSONDecodeError):
                    return value["plaintext"]
            return "[secret]"
        return {k: _unwrap_secrets(v, f"{path}.{k}" if path else k, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _urn_parts(urn: str) -> tuple[str, str, str]:
    """(stack, project, name) of `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise ValueError(urn)
    return parts[0][len("urn:pulumi:"):], parts[1], parts[-1]


def from_state(document: Any, origin: str, stacks: Sequence[str] | None = None) -> StackInput:
    if not isinstance(document, dict) or "deployment" not in document:
        if isinstance(document, dict) and "formatVersion" in document:
            raise SourceError(f"{origin}: this is a chittyos-edge plan; gate it with --plan")
        raise SourceError(f"{origin}: not a `pulumi stack export` (expected {{\"version\": 3, \"deployment\": ...}})")
    if document.get("version") != 3:
        raise SourceError(f"{origin}: deployment version {document.get('version')!r} is not supported (expected 3; "
                          "export with a current Pulumi CLI)")
    deployment = document["deployment"]
    raw_resources = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(raw_resources, list) or not raw_resources:
        raise SourceError(f"{origin}: the deployment has no resources (an empty or never-deployed stack?)")
    found, resources = set(), []
    for index, res in enumerate(raw_resources):
        if not isinstance(res, dict) or "urn" not in res or "type" not in res:
            raise SourceError(f"{origin}: deployment.resources[{index}] lacks urn or type")
        try:
            stack, project, name = _urn_parts(res["urn"])
        except ValueError:
            raise SourceError(f"{origin}: deployment.resources[{index}] has a malformed urn {res['urn']!r}") from None
        if res["type"].startswith("pulumi:providers:"):
            continue
        if project != PROJECT:
            raise SourceError(f"{origin}: resources of project {project!r}, not {PROJECT!r}")
        found.add(stack)
        secret_inputs: list[str] = []
        secret_outputs: list[str] = []
        inputs = _unwrap_secrets(res.get("inputs") or {}, "", secret_inputs)
        outputs = _unwrap_secrets(res.get("outputs") or {}, "", secret_outputs)
        custom = bool(res.get("custom"))
        if custom and res.get("id") and "id" not in outputs:
            outputs["id"] = res["id"]
        resources.append({
            "urn": res["urn"], "type": res["type"], "name": name, "parent": res.get("parent") or None,
            "custom": custom, "inputs": inputs, "outputs": outputs,
            "dependencies": list(res.get("dependencies") or []),
            "propertyDependencies": dict(res.get("propertyDependencies") or {}),
            "protect": bool(res.get("protect")), "retainOnDelete": bool(res.get("retainOnDelete")),
            "deleteBeforeReplace": bool(res.get("deleteBeforeReplace")),
            "importId": res.get("importID") or None,
            "secretInputs": sorted(set(secret_inputs)), "secretOutputs": sorted(set(secret_outputs)),
        })
    if len(found) != 1:
        raise SourceError(f"{origin}: resources of several stacks {sorted(found)}; export one stack")
    stack = _stack_of(found.pop(), origin, stacks)
    return StackInput(stack=stack, project=PROJECT, origin=origin, resources=resources)


def from_state_file(path: Path, stacks: Sequence[str] | None = None) -> StackInput:
    return from_state(_read_json(path, "state file"), _where(path, "state file"), stacks)
