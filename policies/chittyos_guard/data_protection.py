"""Data survives changes: stateful resources protected, Durable Object classes never deleted silently.

`retainOnDelete` is not part of the Analyzer protocol (AnalyzerResourceOptions carries protect,
not retainOnDelete), so no policy can see it; `chittyos-edge gate` checks it beside the pack
(rule CF-DATA-002, see chittyos_edge/gate/gate_rules.py).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import (
    CODE_TYPES, STATEFUL_TYPES, WORKERS_SCRIPT, ReportViolation, Rule, is_durable_object_host, items, script_label,
)


def _protected(args: Any, report: ReportViolation) -> None:
    if args.resource_type in STATEFUL_TYPES:
        what = args.resource_type.rsplit(":", 1)[-1]
    elif args.resource_type == WORKERS_SCRIPT and is_durable_object_host(args.props):
        what = "Durable Object host Worker"
    else:
        return
    if not args.opts.protect:
        report(f"{what} {args.name} is not protected: `pulumi up` could delete or replace it and lose its data")


def deleted_classes(props: Any) -> list[str]:
    migrations = props.get("migrations")
    if not migrations:
        return []
    steps = [migrations, *items(migrations.get("steps"))]
    return [cls for step in steps for cls in items(step.get("deletedClasses"))]


def _deletions_acknowledged(args: Any, report: ReportViolation) -> None:
    if args.resource_type not in CODE_TYPES:
        return
    script = script_label(args.props)
    acknowledged = set(args.get_config().get("acknowledgedDeletedClasses") or [])
    for cls in deleted_classes(args.props):
        if cls not in acknowledged and f"{script}:{cls}" not in acknowledged:
            report(f"Worker {script} deletes Durable Object class {cls} and all its stored objects; list "
                   f"'{script}:{cls}' in acknowledgedDeletedClasses of this stack's policy config to accept that")


RULES = [
    Rule(
        id="CF-DATA-001", name="stateful-resources-protected",
        title="Every stateful resource (KV, R2, D1, queue, Durable Object host) is protected.",
        severity=Severity.CRITICAL,
        checklist="Business Continuity > Rollback Strategy > Data rollback procedures defined",
        remediation="Set dataProtection {protect: true, retainOnDelete: true} in the production stack file; the "
                    "components pass it to every stateful resource.",
        check=_protected,
    ),
    Rule(
        id="CF-DO-001", name="durable-object-deletion-acknowledged",
        config={"acknowledgedDeletedClasses": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "'<script>:<Class>' (or '<Class>') whose deletion, with all its data, is accepted."}},
        title="No Durable Object class is deleted without an explicit acknowledgement.",
        severity=Severity.CRITICAL,
        checklist="Infrastructure Readiness > Durable Objects Deployment > Migration strategies validated",
        remediation="Prefer renamedClasses/transferredClasses. If the data may go, list the class in the stack's "
                    "durableObjects.<name>.acknowledgeDeletedClasses and '<script>:<Class>' in "
                    "policies/config/<stack>.json acknowledgedDeletedClasses, reviewed in the same PR.",
        check=_deletions_acknowledged,
    ),
]
