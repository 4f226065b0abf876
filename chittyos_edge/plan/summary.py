"""The human-readable summary of a plan: resources per component, counts per type."""

from __future__ import annotations

from collections import Counter
from typing import Any


def component_of(resource: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The top-level component (a direct child of the stack) that a resource sits under."""
    current = resource
    while current.get("parent") and by_urn.get(current["parent"], {}).get("type") != "pulumi:pulumi:Stack":
        current = by_urn.get(current["parent"])
        if current is None:
            return None
    return current if not current.get("custom") else None


def summarize(plan: dict[str, Any]) -> str:
    resources = [r for r in plan["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    by_urn = {r["urn"]: r for r in plan["resources"]}
    custom = [r for r in resources if r["custom"]]
    per_component: Counter[tuple[str, str]] = Counter()
    for r in custom:
        component = component_of(r, by_urn)
        key = (component["name"], component["type"]) if component else ("(stack)", "")
        per_component[key] += 1
    for r in resources:
        if not r["custom"] and by_urn.get(r.get("parent") or "", {}).get("type") == "pulumi:pulumi:Stack":
            per_component.setdefault((r["name"], r["type"]), 0)
    per_type = Counter(r["type"] for r in custom)
    imports = sum(1 for r in custom if r.get("importId"))
    protected = sum(1 for r in custom if r.get("protect"))
    secret = sum(1 for r in custom if r.get("secretInputs"))

    lines = [f"Plan of {plan['project']}/{plan['stack']}: {len(custom)} resources in "
             f"{len(per_component)} components ({imports} imported, {protected} protected, "
             f"{secret} with secret inputs)"]
    lines.append("  per component:")
    width = max((len(name) for name, _ in per_component), default=10)
    for (name, typ), count in sorted(per_component.items()):
        lines.append(f"    {name:<{width}}  {count:>4}  {typ}")
    lines.append("  per type:")
    for typ, count in sorted(per_type.items()):
        lines.append(f"    {count:>4}  {typ.split(':')[-1]:<34} {typ}")
    outputs = plan.get("outputs") or {}
    lines.append(f"  outputs: {', '.join(sorted(outputs)) or 'none'}")
    return "\n".join(lines)
