"""The versioning rule of the output contract, applied to JSON Schemas.

Consumers read outputs, so a change is judged by what it does to a reader:
- breaking (bump the major version): a field removed or renamed, its type changed (including
  nullability, enum values, patterns), a required field made optional (a reader may find it
  missing), or a new required field (outputs written by an older release no longer validate);
- additive (bump the minor version): a new optional field;
- neutral (no bump): descriptions, titles, defaults and `x-` annotations.

`contract_problems` checks the live schema against every released schema
(`schemas/history/stack-outputs-<version>.schema.json`, never edited once committed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

_NEUTRAL = {"description", "title", "default", "examples", "$id", "$schema", "$comment"}
_STRUCTURE = {"properties", "required", "additionalProperties", "items", "anyOf", "oneOf", "allOf", "$ref",
              "$defs", "prefixItems"}


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 20:
        seen += 1
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _signature(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in _NEUTRAL and k not in _STRUCTURE and not k.startswith("x-")}


def schema_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(breaking, additive) changes from `old` to `new`, each a line naming the output path."""
    breaking: list[str] = []
    additive: list[str] = []

    def walk(o: Any, n: Any, path: str) -> None:
        o, n = _resolve(o, old), _resolve(n, new)
        if not isinstance(o, Mapping) or not isinstance(n, Mapping):
            if o != n:
                breaking.append(f"{path}: schema changed from {o!r} to {n!r}")
            return
        if _signature(o) != _signature(n):
            breaking.append(f"{path}: retyped from {json.dumps(_signature(o), sort_keys=True)} "
                            f"to {json.dumps(_signature(n), sort_keys=True)}")
            return
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            if key in o or key in n:
                if len(o.get(key, [])) != len(n.get(key, [])):
                    breaking.append(f"{path}: retyped ({key} has {len(o.get(key, []))} alternatives, "
                                    f"now {len(n.get(key, []))})")
                    return
                for i, (a, b) in enumerate(zip(o[key], n[key])):
                    walk(a, b, path)
        if "properties" in o or "properties" in n:
            old_props, new_props = o.get("properties", {}), n.get("properties", {})
            old_req, new_req = set(o.get("required", [])), set(n.get("required", []))
            for name, schema in old_props.items():
                where = f"{path}.{name}" if path else name
                if name not in new_props:
                    breaking.append(f"{where}: removed or renamed")
                    continue
                if name in old_req and name not in new_req:
                    breaking.append(f"{where}: was required, now optional (readers may find it missing)")
                elif name not in old_req and name in new_req:
                    breaking.append(f"{where}: was optional, now required (older outputs no longer validate)")
                walk(schema, new_props[name], where)
            for name in new_props:
                if name not in old_props:
                    where = f"{path}.{name}" if path else name
                    if name in new_req:
                        breaking.append(f"{where}: added as required (older outputs no longer validate)")
                    else:
                        additive.append(f"{where}: added (optional)")
        for key, suffix in (("additionalProperties", ".*"), ("items", "[]")):
            a, b = o.get(key), n.get(key)
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                walk(a, b, f"{path}{suffix}")
            elif a != b and not (a is None and b is True):
                breaking.append(f"{path}{suffix}: {key} changed from {a!r} to {b!r}")

    walk(old, new, "")
    return breaking, additive


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def history_file(directory: Path, version: str) -> Path:
    return directory / f"stack-outputs-{version}.schema.json"


def released_schemas(directory: Path) -> dict[str, dict[str, Any]]:
    released = {}
    for path in sorted(directory.glob("stack-outputs-*.schema.json")):
        version = path.name[len("stack-outputs-"):-len(".schema.json")]
        released[version] = json.loads(path.read_text())
    return released


def contract_problems(live: Mapping[str, Any], live_version: str,
                      released: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What is wrong with the live contract given the released ones; [] when it may ship as is."""
    problems: list[str] = []
    major, minor = _version(live_version)
    newer = sorted((v for v in released if _version(v) > (major, minor)), key=_version)
    if newer:
        problems.append(f"contract {live_version} is older than the released {newer[-1]}; versions only go up")
    for version, schema in sorted(released.items(), key=lambda item: _version(item[0])):
        if _version(version)[0] != major:
            continue  # a new major may break anything
        breaking, additive = schema_changes(schema, live)
        for change in breaking:
            problems.append(f"breaking change against released contract {version}: {change}; "
                            f"bump the major version (CONTRACT_VERSION = \"{major + 1}.0\")")
        if version == live_version and additive:
            problems += [f"change against released contract {version}: {change}; bump the minor version "
                         f"(CONTRACT_VERSION = \"{major}.{minor + 1}\")" for change in additive]
    if live_version not in released:
        problems.append(f"contract {live_version} has no released schema: write `chittyos-edge outputs --schema` "
                        f"to schemas/history/stack-outputs-{live_version}.schema.json (and never edit it again)")
    return problems
