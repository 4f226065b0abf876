"""Data survives changes: stateful resources protected, Durable Object classes never deleted
silently, failed queue messages kept in a dead-letter queue.

`retainOnDelete` is not part of the Analyzer protocol (AnalyzerResourceOptions carries protect,
not retainOnDelete), so no policy can see it; `chittyos-edge gate` checks it beside the pack
(rule CF-DATA-002, see chittyos_edge/gate/gate_rules.py).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._rule import (
    CODE_TYPES, QUEUE_CONSUMER, STATEFUL_TYPES, ReportViolation, Rule, is_durable_object_host, items, number, of_type,
    script_label,
)
from ._workers import scripts


def _protected(args: Any, report: ReportViolation) -> None:
    """Every stateful resource (KV, R2, D1, queue, Durable Object host Worker) is protected.

    Set dataProtection {protect: true, retainOnDelete: true} in the production stack file; the
    components pass it to every stateful resource. A Durable Object host is the Worker (the
    WorkersScript, or the v6 Worker whose versions declare the classes), never a version."""
    held = [(r, r.resource_type.rsplit(":", 1)[-1]) for r in of_type(args.resources, *STATEFUL_TYPES)]
    held += [(s.resource, "Durable Object host Worker") for s in scripts(args, report)
             if any(is_durable_object_host(code.props) for code in s.code)]
    for resource, what in held:
        if not resource.opts.protect:
            report(f"{what} {resource.name} is not protected: `pulumi up` could delete or replace it and lose its "
                   "data", resource.urn)


def deleted_classes(props: Any) -> list[str]:
    migrations = props.get("migrations")
    if not migrations:
        return []
    steps = [migrations, *items(migrations.get("steps"))]
    return [cls for step in steps for cls in items(step.get("deletedClasses"))]


def _deletions_acknowledged(args: Any, report: ReportViolation) -> None:
    """No Durable Object class is deleted without an explicit acknowledgement.

    Prefer renamedClasses/transferredClasses. If the data may go, list the class in the stack's
    durableObjects.<name>.acknowledgeDeletedClasses and '<script>:<Class>' in
    policies/config/<stack>.json acknowledgedDeletedClasses, reviewed in the same PR."""
    if args.resource_type not in CODE_TYPES:
        return
    script = script_label(args.props) or args.name
    acknowledged = set(args.get_config().get("acknowledgedDeletedClasses") or [])
    for cls in deleted_classes(args.props):
        if cls not in acknowledged and f"{script}:{cls}" not in acknowledged:
            report(f"Worker {script} deletes Durable Object class {cls} and all its stored objects; list "
                   f"'{script}:{cls}' in acknowledgedDeletedClasses of this stack's policy config to accept that")


def _dead_letters(args: Any, report: ReportViolation) -> None:
    """Every queue consumer retries, then keeps what still fails in a dead-letter queue.

    Give each queue consumer deadLetterQueue (a queue of this stack, named '<queue>-dlq-<environment>')
    and settings.maxRetries of at least 1; without one, a message that keeps failing is dropped."""
    if args.resource_type != QUEUE_CONSUMER:
        return
    retries = number((args.props.get("settings") or {}).get("maxRetries"))
    if not args.props.get("deadLetterQueue") or (retries is not None and retries < 1):
        report(f"queue consumer {args.name}: dead-letter queue {args.props.get('deadLetterQueue')!r}, maxRetries "
               f"{retries}; failed messages would be lost")


_ACKNOWLEDGED = {"acknowledgedDeletedClasses": {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "'<script>:<Class>' (or '<Class>') whose deletion, with all its data, is accepted."}}

RULES = [
    Rule("CF-DATA-001", "stateful-resources-protected", Severity.CRITICAL, C.DATA_ROLLBACK, _protected, scope="stack",
         key="dataProtection.protect"),
    Rule("CF-DO-001", "durable-object-deletion-acknowledged", Severity.CRITICAL, C.DO_MIGRATIONS, _deletions_acknowledged,
         config=_ACKNOWLEDGED, key="durableObjects.<entry>.migrations"),
    Rule("CF-Q-001", "queue-consumers-dead-letter", Severity.HIGH, C.ERROR_SCENARIOS, _dead_letters,
         key="services.<entry>.queueConsumers"),
]
