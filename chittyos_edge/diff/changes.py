"""What `pulumi up` would do to go from one plan of a stack to another, resource by resource.

Resources are matched by URN, as the engine matches them: a renamed Pulumi name (or a move to
another parent) is a delete and a create. A resource in both plans is an update when its inputs
or options differ, and a replacement when a changed input forces one (see `replace.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..plan.summary import component_of
from . import replace

CREATE, UPDATE, REPLACE, DELETE = "create", "update", "replace", "delete"
ORDER = (CREATE, UPDATE, REPLACE, DELETE)
SYMBOL = {CREATE: "+", UPDATE: "~", REPLACE: "+-", DELETE: "-"}
OPTIONS = ("protect", "retainOnDelete", "deleteBeforeReplace", "importId")
# List items matched by one of these keys rather than by position, so that one inserted binding
# reads as one change, not as every later binding shifting.
_ITEM_KEYS = ("name", "ref", "id")
_STACK = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Change:
    action: str
    urn: str
    type: str
    name: str
    component: str  # the top-level component's name, or "" for a resource of the stack itself
    custom: bool
    protected: bool  # protected in the plan it is deleted or replaced from (or created in)
    changed: tuple[str, ...] = ()  # input paths (and `[option]`s) that differ
    forcing: tuple[str, ...] = ()  # the changed paths that force the replacement
    known_type: bool = True  # False: a type missing from the replacement table (updates may be replaces)

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "urn": self.urn, "type": self.type, "name": self.name,
                "component": self.component, "custom": self.custom, "protected": self.protected,
                "changedInputs": list(self.changed), "replaceReasons": list(self.forcing),
                "replacementKnown": self.known_type}


@dataclass
class StackChanges:
    stack: str
    base: str  # where each side came from, e.g. "revision main (3f2a1c0)"
    head: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    components: dict[str, str] = field(default_factory=dict)  # component name -> type, both sides
    members: dict[str, list[str]] = field(default_factory=dict)  # component name -> resource names, head side

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    def counts(self) -> dict[str, int]:
        return {action: len(self.of(action)) for action in ORDER}

    def headline(self) -> str:
        if not self.changes:
            return f"{self.stack}: no changes ({self.unchanged} unchanged)"
        parts = [f"{count} to {action}" for action, count in self.counts().items() if count]
        return f"{self.stack}: {', '.join(parts)} ({self.unchanged} unchanged)"


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects all carrying one distinct identity key, as {identity: item}."""
    for key in _ITEM_KEYS:
        if items and all(isinstance(i, dict) and isinstance(i.get(key), str) for i in items):
            ids = [i[key] for i in items]
            if len(set(ids)) == len(ids):
                return {i[key]: i for i in items}
    return None


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Leaf paths where two input trees differ: `a.b`, `list[2]`, `bindings[SESSION_KV].namespaceId`."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            if key not in old or key not in new:
                paths.append(sub)
            else:
                paths += changed_paths(old[key], new[key], sub)
        return paths
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            paths = []
            for key in list(old_keyed) + [k for k in new_keyed if k not in old_keyed]:
                sub = f"{path}[{key}]"
                if key not in old_keyed or key not in new_keyed:
                    paths.append(sub)
                else:
                    paths += changed_paths(old_keyed[key], new_keyed[key], sub)
            return paths
        if len(old) != len(new):
            return [path]
        paths = []
        for index, (a, b) in enumerate(zip(old, new)):
            paths += changed_paths(a, b, f"{path}[{index}]")
        return paths
    return [] if old == new else [path or "(value)"]


def _component(record: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> str:
    if not record["custom"] and by_urn.get(record.get("parent") or "", {}).get("type") == _STACK:
        return record["name"]
    found = component_of(record, by_urn)
    return found["name"] if found else ""


def _records(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in plan["resources"] if r["type"] != _STACK}


def compare(base: dict[str, Any], head: dict[str, Any], base_origin: str, head_origin: str) -> StackChanges:
    """The changes from the `base` plan of a stack to the `head` plan of the same stack."""
    old, new = _records(base), _records(head)
    old_all = {r["urn"]: r for r in base["resources"]}
    new_all = {r["urn"]: r for r in head["resources"]}
    result = StackChanges(stack=head["stack"], base=base_origin, head=head_origin)
    for side, records in ((old_all, old), (new_all, new)):
        for record in records.values():
            name = _component(record, side)
            if name and name == record["name"]:
                result.components[name] = record["type"]
    for record in new.values():
        name = _component(record, new_all)
        if record["custom"]:
            result.members.setdefault(name, []).append(record["name"])

    def change(action: str, record: dict[str, Any], side: dict[str, dict[str, Any]], **extra: Any) -> Change:
        return Change(action=action, urn=record["urn"], type=record["type"], name=record["name"],
                      component=_component(record, side), custom=record["custom"],
                      protected=bool(record.get("protect")), known_type=replace.known(record["type"])
                      or not record["custom"], **extra)

    for urn, record in new.items():
        if urn not in old:
            result.changes.append(change(CREATE, record, new_all))
    for urn, record in old.items():
        if urn not in new:
            result.changes.append(change(DELETE, record, old_all))
            continue
        after = new[urn]
        paths = changed_paths(record["inputs"], after["inputs"])
        paths += [f"[{option}]" for option in OPTIONS if record.get(option) != after.get(option)]
        if not paths:
            result.unchanged += 1
            continue
        forced = replace.forcing(record["type"], paths, after["inputs"])
        result.changes.append(change(REPLACE if forced else UPDATE, record, old_all,
                                     changed=tuple(paths), forcing=tuple(forced)))
    rank = {action: i for i, action in enumerate(ORDER)}
    result.changes.sort(key=lambda c: (rank[c.action], c.component, c.type, c.name))
    return result
