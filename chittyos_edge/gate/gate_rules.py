"""The checks the gate makes beside the policy pack, because no policy can make them:

- CF-DATA-002: `retainOnDelete` is not in the Analyzer protocol (AnalyzerResourceOptions has
  `protect` but not `retainOnDelete`), so the pack cannot see it; the gate reads it from the plan
  or the state export. Under `pulumi preview --policy-pack` this item is covered only by the
  config rule (dataProtection must be true in production).
- CF-ENV-003: "staging and production share no stateful identifier" needs both stacks at once,
  and a policy pack sees one stack.
- CF-DATA-003: "no change deletes or replaces a protected resource" needs the stack before and after
  the change (`chittyos-edge diff BASE HEAD`, `gate --diff BASE HEAD`); a pack sees one state.
- CF-ENV-004: a plan adopts what runs (see `collisions.py`): it needs the inventory of the account
  and the stack file's stated reasons, neither of which reaches a policy.

Their levels come from `policies/config/<stack>.gate.json` (entries `stateful-resources-retained`,
`stacks-share-no-stateful-identifier`, `protected-resources-kept` and `plan-adopts-what-runs`), beside the
pack's `<stack>.json`: names that are no policy of the pack stay out of the file the Pulumi CLI reads (see
policy_config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from policies.chittyos_guard._rule import (
    CODE_TYPES, D1_DATABASE, KV_NAMESPACE, QUEUE, QUEUE_CONSUMER, R2_BUCKET, STATEFUL_TYPES, WORKER, WORKER_VERSION,
    WORKERS_SCRIPT, is_durable_object_host,
)

from .sources import StackInput


@dataclass(frozen=True)
class GateRule:
    id: str
    name: str
    title: str
    severity: str
    checklist: str
    remediation: str
    key: str | tuple[str, ...]  # the stack-file key the fix changes, as a pack rule's `key` (_rule.Rule)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    def info(self) -> dict[str, str]:
        return {"id": self.id, "policy": self.name, "title": self.title, "severity": self.severity,
                "checklist": self.checklist, "remediation": self.remediation, "source": "gate"}


RETAINED = GateRule(
    id="CF-DATA-002", name="stateful-resources-retained",
    title="Every stateful resource is retained on delete (it stays in Cloudflare when it leaves the program).",
    severity="critical",
    checklist="Business Continuity > Rollback Strategy > Data rollback procedures defined",
    remediation="Set dataProtection.retainOnDelete: true in the stack file; the components pass it to every "
                "stateful resource.",
    key="dataProtection.retainOnDelete")

NO_SHARED_IDS = GateRule(
    id="CF-ENV-003", name="stacks-share-no-stateful-identifier",
    title="Staging and production share no KV namespace, R2 bucket, D1 database or queue (by id or name).",
    severity="critical",
    checklist="Deployment Execution Plan > Final Validation > Staging environment fully validated",
    remediation="Give each stack its own resources (names carry the environment); adopt an existing resource "
                "in one stack only and list its id in that stack's allowedLiteralIds alone.",
    key="<entry>")  # the store named in the message

PROTECTED_KEPT = GateRule(
    id="CF-DATA-003", name="protected-resources-kept",
    title="No change deletes or replaces a protected resource (checked on the change from a base to a head).",
    severity="critical",
    checklist="Business Continuity > Rollback Strategy > Data rollback procedures defined",
    remediation="Keep the resource's Pulumi name and the inputs that force a replacement (rename a config key "
                "only with an alias); to retire a protected store on purpose, `pulumi state unprotect` it first "
                "in a reviewed change.",
    key=("<entry>", "dataProtection.protect"))  # a deleted resource has no entry left in the head

ADOPTS_WHAT_RUNS = GateRule(
    id="CF-ENV-004", name="plan-adopts-what-runs",
    title="Nothing the plan creates already runs: live Workers, stores, custom domains, DNS names and tunnels are "
          "adopted; a live queue consumer, custom domain or route is taken over only with a stated reason.",
    severity="critical",
    checklist="Deployment Execution Plan > Final Validation > Staging environment fully validated",
    remediation="Refresh the inventory (chittyos-edge inventory --stack S), then adopt each live object with the "
                "adopt: key the finding names, or state the reason under services.<key>.takeOver.",
    key=("<entry>",))

GATE_RULES = (RETAINED, NO_SHARED_IDS, PROTECTED_KEPT, ADOPTS_WHAT_RUNS)


def durable_object_host_workers(resources: list[dict[str, Any]]) -> set[str]:
    """Names of the `Worker`s whose versions create Durable Object classes: deleting one loses their data."""
    return {record["inputs"].get("workerId") for record in resources
            if record["type"] == WORKER_VERSION and is_durable_object_host(record["inputs"])}


def retained_problems(stack: StackInput) -> Iterator[tuple[str, str]]:
    """(urn, message) for each stateful resource that would be deleted with the program."""
    hosts = durable_object_host_workers(stack.resources)
    for record in stack.resources:
        stateful = record["type"] in STATEFUL_TYPES or (
            record["type"] == WORKERS_SCRIPT and is_durable_object_host(record["inputs"])) or (
            record["type"] == WORKER and record["inputs"].get("name") in hosts)
        if stateful and not record.get("retainOnDelete"):
            kind = record["type"].rsplit(":", 1)[-1]
            yield record["urn"], (f"{kind} {record['name']} is not retainOnDelete: removing it from the program "
                                  "would delete it, and its data, from Cloudflare")


_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    KV_NAMESPACE: ("id", "title"), R2_BUCKET: ("name",), D1_DATABASE: ("id", "uuid", "name"),
    QUEUE: ("id", "queueId", "queueName"),
}
_KIND = {KV_NAMESPACE: "kv", R2_BUCKET: "r2", D1_DATABASE: "d1", QUEUE: "queue"}
_BINDING_KEYS = {"kv_namespace": ("kv", ("namespaceId",)), "r2_bucket": ("r2", ("bucketName",)),
                 "d1": ("d1", ("id", "databaseId")), "queue": ("queue", ("queueName",))}


def stateful_identifiers(stack: StackInput, literal_ids: list[str]) -> dict[tuple[str, str], str]:
    """(kind, identifier) -> where it appears, for every stateful identifier a stack uses. A literal id
    takes the kind of the resource of this stack it names (an adopted Worker's legacy name is a
    Worker's), else the kind `literal`, which matches any kind of the other stack."""
    found: dict[tuple[str, str], str] = {}
    worker_names: set[str] = set()

    def add(kind: str, value: Any, where: str) -> None:
        if isinstance(value, str) and value and value != "[unknown]" and not value.startswith("[secret"):
            found.setdefault((kind, value), where)

    for record in stack.resources:
        outputs = record.get("outputs") or record["inputs"]
        if record["type"] in _IDENTIFIERS:
            for key in _IDENTIFIERS[record["type"]]:
                add(_KIND[record["type"]], outputs.get(key), f"{record['type'].rsplit(':', 1)[-1]} {record['name']}.{key}")
        elif record["type"] in CODE_TYPES:
            for binding in record["inputs"].get("bindings") or []:
                kind_keys = _BINDING_KEYS.get(binding.get("type"))
                if kind_keys:
                    kind, keys = kind_keys
                    for key in keys:
                        add(kind, binding.get(key), f"Worker {record['name']} binding {binding.get('name')}")
        elif record["type"] == QUEUE_CONSUMER:
            add("queue", record["inputs"].get("queueId"), f"QueueConsumer {record['name']}.queueId")
        if record["type"] in (WORKER, WORKERS_SCRIPT):
            worker_names.add(record["inputs"].get("name") or record["inputs"].get("scriptName"))
    kinds_of = {value: kind for kind, value in found}
    for value in literal_ids:
        kind = kinds_of.get(value) or ("worker" if value in worker_names else "literal")
        add(kind, value, "allowedLiteralIds")
    return found


def shared_identifiers(first: StackInput, first_ids: list[str], second: StackInput,
                       second_ids: list[str]) -> list[str]:
    """Messages for each identifier both stacks use (the same value of the same kind; a `literal`
    of unknown kind matches any)."""
    a = stateful_identifiers(first, first_ids)
    b = stateful_identifiers(second, second_ids)
    by_value_a: dict[str, list[tuple[str, str]]] = {}
    for (kind, value), where in a.items():
        by_value_a.setdefault(value, []).append((kind, where))
    problems = []
    for (kind, value), where_b in sorted(b.items()):
        for kind_a, where_a in by_value_a.get(value, []):
            if kind_a == kind or "literal" in (kind_a, kind):
                problems.append(f"{value!r} is used by {first.stack} ({where_a}) and by {second.stack} ({where_b})")
                break
    return problems


def protected_changes(changes: Any) -> Iterator[tuple[str, str]]:
    """(urn, message) for each protected resource a change set deletes or replaces."""
    for change in changes.changes:
        if change.protected and change.action in ("delete", "replace"):
            why = (f"replaced (a change of {', '.join(change.forcing)} forces it)" if change.action == "replace"
                   else "deleted (its Pulumi name or parent changed, or it left the program)")
            yield change.urn, (f"protected {change.kind} {change.name} would be {why}: `pulumi up` refuses it, "
                               "and its data would be lost if it did not")
