"""Staging and production stay apart: stores, Workers, hostnames and the URLs Workers call.

Rules over the whole stack (AnalyzeStack sees each resource's outputs, ids included):
- every binding of a Worker, and every queue consumer, resolves to a resource declared in this
  stack whose name carries this stack's environment; a literal id that matches nothing here is
  allowed only when it is in this stack's own `allowedLiteralIds` (policy config);
- every stateful resource and Worker is named `<logical>-<environment>`, except an adopted one
  whose id is in `allowedLiteralIds`: it may keep its legacy name, but never one that carries
  another environment's marker (`-staging` in production, `-production`/`-prod` in staging);
- every custom domain and route is served by a Worker of this stack, on a hostname that carries
  no other environment's marker (and, where the stack says so, carries its own);
- no plain var of a Worker points at the other environment, and `ENVIRONMENT` names this one.

During preview the id of a resource still to be created is unknown. A binding whose id is unknown
is resolved through the script's property dependencies: the id can only come from the resources
`bindings` depends on, so they must all be stateful resources of this stack that pass the rule.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._hosts import PUBLIC_SOURCES, TUNNEL_RECORDS, hostnames
from ._rule import (
    D1_DATABASE, ENVIRONMENT_SCHEMA, KV_NAMESPACE, LITERAL_IDS_SCHEMA, QUEUE, QUEUE_CONSUMER, R2_BUCKET,
    CODE_TYPES, SCRIPT_TYPES, STATEFUL_TYPES, WORKER, WORKERS_CUSTOM_DOMAIN, WORKERS_ROUTE, WORKERS_SCRIPT,
    ReportViolation, Rule, carries_environment, config, each_resource, is_unknown, items, of_type,
    environments_marked, other_environment_marker, raw, script_label, stateful_name,
)
from ._workers import script_names

KIND = {KV_NAMESPACE: "KV namespace", R2_BUCKET: "R2 bucket", D1_DATABASE: "D1 database", QUEUE: "queue",
        WORKERS_SCRIPT: "Worker", WORKER: "Worker"}
NAMED = (*STATEFUL_TYPES, *SCRIPT_TYPES)


def _settings(args: Any) -> tuple[str, set[str]]:
    cfg = args.get_config()
    return cfg.get("environment") or "", set(cfg.get("allowedLiteralIds") or [])


def _identifiers(resource: Any) -> set[str]:
    """Every value a binding may use to point at this resource (ids and names)."""
    props = resource.props
    keys = {KV_NAMESPACE: ("id",), R2_BUCKET: ("id", "name"), D1_DATABASE: ("id", "uuid"),
            QUEUE: ("id", "queueId", "queueName"), WORKERS_SCRIPT: ("id", "scriptName"),
            WORKER: ("id", "name")}[resource.resource_type]
    found = set()
    for key in keys:
        value = raw(props, key)
        if isinstance(value, str) and value and not is_unknown(value):
            found.add(value)
    return found


def _own_problem(resource: Any, environment: str, allowed: set[str]) -> str | None:
    """Why this stateful resource or Worker may not be used by this stack (None when it may)."""
    name, kind = stateful_name(resource), KIND[resource.resource_type]
    if carries_environment(name, environment):
        return None
    if _identifiers(resource) & allowed:  # adopted: its id is this stack's own
        other = other_environment_marker(name, environment)
        return (f"{kind} {name!r} is adopted under a legacy name that carries the {other} marker: a {environment} "
                f"resource must never look like {other}'s (rename it, or adopt the right one)") if other else None
    return (f"{kind} {name!r} does not carry the environment "
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
    """Every binding resolves to a resource of this stack carrying its environment; literal ids only from its own list.

    Bind by logical name (services.<name>.bindings) so the program wires the namespace, bucket,
    database or queue of this stack. An existing resource is adopted (adopt: {id}) and its id
    listed in policies/config/<stack>.json allowedLiteralIds of this stack only."""
    environment, allowed = _settings(args)
    stateful = of_type(args.resources, *STATEFUL_TYPES)
    by_ref = {(r.resource_type, ref): r for r in stateful for ref in _identifiers(r)}

    for script in of_type(args.resources, *CODE_TYPES):
        with each_resource(report, script.urn):
            script_name = script_label(script.props) or script.name
            deps = [d for d in script.property_dependencies.get("bindings", []) if d.resource_type in STATEFUL_TYPES]
            for binding in items(script.props.get("bindings")):
                target = _BINDING_TARGETS.get(binding.get("type"))
                if not target:
                    continue
                kind, keys = target
                name = binding.get("name")
                values = [(key, raw(binding, key)) for key in keys if raw(binding, key) is not None]
                if not values:
                    report(f"Worker {script_name}: binding {name} ({binding.get('type')}) names no resource",
                           script.urn)
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
    """Every KV namespace, R2 bucket, D1 database, queue and Worker is named '<name>-<environment>'.

    Let chittyos_edge.naming build the physical name. An adopted resource keeps its legacy name
    only when its id is in this stack's allowedLiteralIds, and never a name that carries another
    environment's marker (-staging in production, -production or -prod in staging)."""
    environment, allowed = _settings(args)
    for resource in of_type(args.resources, *NAMED):
        with each_resource(report, resource.urn):
            problem = _own_problem(resource, environment, allowed)
            if problem:
                report(problem, resource.urn)


def _served_here(args: Any, report: ReportViolation) -> None:
    """Every custom domain and route is served by a Worker of this stack, on a hostname of this environment.

    Point services.<name>.customDomains/routes at this stack's Worker (the program wires the
    script name). Hostnames of this environment never carry another environment's marker; a stack
    whose config sets hostnamesCarryEnvironment (staging) names every hostname with its own, and
    otherEnvironmentHostnames lists hostnames the other stack serves, which this one must not."""
    environment, allowed = _settings(args)
    cfg = config(args)
    own, foreign = script_names(args) | allowed, set(items(cfg.get("otherEnvironmentHostnames")))
    for resource in of_type(args.resources, WORKERS_CUSTOM_DOMAIN, WORKERS_ROUTE):
        with each_resource(report, resource.urn):
            key = "service" if resource.resource_type == WORKERS_CUSTOM_DOMAIN else "script"
            target = raw(resource.props, key)
            if is_unknown(target):
                deps = resource.property_dependencies.get(key, [])
                if not deps:
                    resource.props.get(key)  # raises: fails closed
                problems = [_own_problem(d, environment, allowed) for d in deps if d.resource_type in SCRIPT_TYPES]
            elif target not in own:
                problems = [f"Worker {target!r} is not a Worker of this stack (another environment's?)"]
            else:
                marker = other_environment_marker(target, environment)
                problems = [f"Worker {target!r} carries the {marker} marker"] if marker else []
            for problem in filter(None, problems):
                report(f"{resource.name} is served by {problem}", resource.urn)
    for host, resource in hostnames(args, report, (*PUBLIC_SOURCES, TUNNEL_RECORDS)).items():
        marker = other_environment_marker(host, environment)
        if marker or host in foreign:
            report(f"hostname {host} belongs to {marker or 'the other environment'}, not {environment}", resource.urn)
        elif cfg.get("hostnamesCarryEnvironment") and environment not in environments_marked(host):
            report(f"hostname {host} does not carry the {environment} marker (hostnamesCarryEnvironment)", resource.urn)


def _vars_stay_here(args: Any, report: ReportViolation) -> None:
    """Worker vars name this environment and never point at the other one.

    Set services.<name>.vars.ENVIRONMENT to the stack's environment and point URL vars at this
    environment's services (e.g. https://registry-staging.chitty.cc in staging)."""
    environment, _ = _settings(args)
    foreign = set(items(config(args).get("otherEnvironmentHostnames")))
    for code in of_type(args.resources, *CODE_TYPES):
        with each_resource(report, code.urn):
            script = script_label(code.props) or code.name
            plain = [(str(b.get("name")), b.get("text") if b.get("type") == "plain_text" else b.get("json"))
                     for b in items(code.props.get("bindings")) if b.get("type") in ("plain_text", "json")]
            if dict(plain).get("ENVIRONMENT") != environment:
                report(f"Worker {script}: ENVIRONMENT is {dict(plain).get('ENVIRONMENT')!r}, not {environment!r}",
                       code.urn)
            for name, value in plain:
                marker = other_environment_marker(value, environment)
                crossing = [host for host in foreign if host in str(value)]
                if name != "ENVIRONMENT" and (marker or crossing):
                    report(f"Worker {script}: var {name} = {value!r} points at {marker or crossing[0]}, "
                           f"another environment", code.urn)


_SCHEMA = {"environment": ENVIRONMENT_SCHEMA, "allowedLiteralIds": LITERAL_IDS_SCHEMA}
_FOREIGN = {"otherEnvironmentHostnames": {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "Hostnames the other stack serves: this stack must neither serve them nor call them."}}
_HOSTS = {**_SCHEMA, **_FOREIGN, "hostnamesCarryEnvironment": {
    "type": "boolean", "default": False, "description": "Every hostname of this stack carries its environment."}}
_ENV = ("environment",)

_VARS = {**_SCHEMA, **_FOREIGN}
H, CRIT = Severity.HIGH, Severity.CRITICAL

RULES = [
    Rule("CF-ENV-001", "bindings-resolve-in-stack", CRIT, C.KV_IDS, _bindings_resolve, "stack", _SCHEMA, _ENV,
         key=("services.<entry>.bindings", "services.<entry>.queueConsumers")),
    Rule("CF-ENV-002", "stateful-names-carry-environment", H, C.STAGING_VALIDATED, _names_carry_environment, "stack", _SCHEMA, _ENV,
         key="<entry>"),
    Rule("CF-ENV-005", "hostnames-served-by-this-environment", CRIT, C.CUSTOM_DOMAINS, _served_here, "stack", _HOSTS, _ENV,
         key=("<entry>", "services.<entry>.customDomains")),
    Rule("CF-ENV-006", "worker-vars-stay-in-environment", H, C.WORKER_VARS, _vars_stay_here, "stack", _VARS, _ENV,
         key="services.<entry>.vars"),
]
