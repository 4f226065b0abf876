"""Staging and production never share a KV namespace, R2 bucket, D1 database or queue.

Two rules, both over the whole stack (AnalyzeStack sees each resource's outputs, ids included):
- every binding of a Worker, and every queue consumer, resolves to a resource declared in this
  stack whose name carries this stack's environment; a literal id that matches nothing here is
  allowed only when it is in this stack's own `allowedLiteralIds` (policy config);
- every stateful resource's name carries the environment (`<logical>-<environment>`), except an
  adopted resource whose id is in `allowedLiteralIds`, which may keep its legacy name.

During preview the id of a resource still to be created is unknown. A binding whose id is unknown
is resolved through the script's property dependencies: the id can only come from the resources
`bindings` depends on, so they must all be stateful resources of this stack that pass the rule.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import (
    D1_DATABASE, ENVIRONMENT_SCHEMA, KV_NAMESPACE, LITERAL_IDS_SCHEMA, QUEUE, QUEUE_CONSUMER, R2_BUCKET,
    CODE_TYPES, STATEFUL_TYPES, ReportViolation, Rule, carries_environment, each_resource, is_unknown,
    items, of_type, raw, script_label, stateful_name,
)

KIND = {KV_NAMESPACE: "KV namespace", R2_BUCKET: "R2 bucket", D1_DATABASE: "D1 database", QUEUE: "queue"}


def _settings(args: Any) -> tuple[str, set[str]]:
    cfg = args.get_config()
    return cfg.get("environment") or "", set(cfg.get("allowedLiteralIds") or [])


def _identifiers(resource: Any) -> set[str]:
    """Every value a binding may use to point at this resource (ids and names)."""
    props = resource.props
    keys = {KV_NAMESPACE: ("id",), R2_BUCKET: ("id", "name"), D1_DATABASE: ("id", "uuid"),
            QUEUE: ("id", "queueId", "queueName")}[resource.resource_type]
    found = set()
    for key in keys:
        value = raw(props, key)
        if isinstance(value, str) and value and not is_unknown(value):
            found.add(value)
    return found


def _own_problem(resource: Any, environment: str, allowed: set[str]) -> str | None:
    """Why this stateful resource may not be used by this stack (None when it may)."""
    name = stateful_name(resource)
    if carries_environment(name, environment):
        return None
    if _identifiers(resource) & allowed:
        return None  # adopted: its id is this stack's own, it keeps its legacy name
    return (f"{KIND[resource.resource_type]} {name!r} does not carry the environment "
            f"(expected '<name>-{environment}') and its id is not in allowedLiteralIds")


# (binding type) -> (resource type, keys of the binding that hold the reference)
_BINDING_TARGETS = {
    "kv_namespace": (KV_NAMESPACE, ("namespaceId",)),
    "r2_bucket": (R2_BUCKET, ("bucketName",)),
    "d1": (D1_DATABASE, ("id", "databaseId")),
    "queue": (QUEUE, ("queueName",)),
}


def _resolve(value: str, kind: str, by_ref: dict[tuple[str, str], Any], allowed: set[str],
             environment: str) -> str | None:
    target = by_ref.get((kind, value))
    if target is not None:
        return _own_problem(target, environment, allowed)
    if value in allowed:
        return None
    return (f"{value!r} is no {KIND[kind]} declared in this stack and is not in this stack's "
            "allowedLiteralIds (another stack's resource?)")


def _bindings_resolve(args: Any, report: ReportViolation) -> None:
    environment, allowed = _settings(args)
    stateful = of_type(args.resources, *STATEFUL_TYPES)
    by_ref = {(r.resource_type, ref): r for r in stateful for ref in _identifiers(r)}

    for script in of_type(args.resources, *CODE_TYPES):
        with each_resource(report, script.urn):
            script_name = script_label(script.props)
            deps = [d for d in script.property_dependencies.get("bindings", []) if d.resource_type in STATEFUL_TYPES]
            for binding in items(script.props.get("bindings")):
                target = _BINDING_TARGETS.get(binding.get("type"))
                if not target:
                    continue
                kind, keys = target
                name = binding.get("name")
                values = [(key, raw(binding, key)) for key in keys if raw(binding, key) is not None]
                if not values:
                    report(f"Worker {script_name}: binding {name} ({binding.get('type')}) names no resource", script.urn)
                    continue
                key, value = values[0]
                if is_unknown(value):
                    candidates = [d for d in deps if d.resource_type == kind]
                    if not candidates:
                        binding.get(key)  # raises: an unknown that no dependency explains fails closed
                    for dep in candidates:
                        problem = _own_problem(dep, environment, allowed)
                        if problem:
                            report(f"Worker {script_name}: binding {name} depends on {problem}", script.urn)
                    continue
                problem = _resolve(value, kind, by_ref, allowed, environment)
                if problem:
                    report(f"Worker {script_name}: binding {name} ({binding.get('type')}.{key}): {problem}", script.urn)

    for consumer in of_type(args.resources, QUEUE_CONSUMER):
        with each_resource(report, consumer.urn):
            deps = [d for d in consumer.property_dependencies.get("queueId", []) if d.resource_type == QUEUE]
            queue_id = raw(consumer.props, "queueId")
            if is_unknown(queue_id) and deps:
                problems = [_own_problem(d, environment, allowed) for d in deps]
            else:
                problems = [_resolve(consumer.props.get("queueId"), QUEUE, by_ref, allowed, environment)]
            dead_letter = consumer.props.get("deadLetterQueue")
            if dead_letter:
                problems.append(_resolve(dead_letter, QUEUE, by_ref, allowed, environment))
            for problem in filter(None, problems):
                report(f"QueueConsumer {consumer.name}: {problem}", consumer.urn)


def _names_carry_environment(args: Any, report: ReportViolation) -> None:
    environment, allowed = _settings(args)
    for resource in of_type(args.resources, *STATEFUL_TYPES):
        with each_resource(report, resource.urn):
            problem = _own_problem(resource, environment, allowed)
            if problem:
                report(problem, resource.urn)


_SCHEMA = {"environment": ENVIRONMENT_SCHEMA, "allowedLiteralIds": LITERAL_IDS_SCHEMA}

RULES = [
    Rule(
        id="CF-ENV-001", name="bindings-resolve-in-stack", scope="stack", config=_SCHEMA, required=("environment",),
        title="Every binding resolves to a resource of this stack carrying its environment; literal ids only "
              "from this stack's own list.",
        severity=Severity.CRITICAL,
        checklist="Infrastructure Readiness > KV Storage Setup > Production KV namespaces created with proper IDs",
        remediation="Bind by logical name (services.<name>.bindings) so the program wires the namespace, bucket, "
                    "database or queue of this stack. An existing resource is adopted (adopt: {id}) and its id "
                    "listed in policies/config/<stack>.json allowedLiteralIds of this stack only.",
        check=_bindings_resolve,
    ),
    Rule(
        id="CF-ENV-002", name="stateful-names-carry-environment", scope="stack", config=_SCHEMA,
        required=("environment",),
        title="Every KV namespace, R2 bucket, D1 database and queue is named '<name>-<environment>'.",
        severity=Severity.HIGH,
        checklist="Deployment Execution Plan > Final Validation > Staging environment fully validated",
        remediation="Let chittyos_edge.naming build the physical name; an adopted resource keeps its legacy "
                    "name only when its id is in this stack's allowedLiteralIds.",
        check=_names_carry_environment,
    ),
]
