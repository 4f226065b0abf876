"""CF-ENV-004: a plan adopts what runs; it never creates a second one or takes traffic silently.

A gate-level check, beside the pack, because the Analyzer protocol cannot carry what it needs: the
inventory of what runs (`inventory/<stack>.yaml`) is a file of the project, not a resource, and the
reasons a stack gives for taking something over (`services.<key>.takeOver`) live in the stack file.

For every object the plan creates (no `importId`):
- a Worker, KV namespace title, R2 bucket, D1 database, queue, tunnel name, custom-domain hostname or
  DNS name that the inventory lists is a finding naming the live object and the key that adopts it;
- a queue consumer on a queue a live Worker consumes (a queue has one consumer), a custom domain or a
  route that a live Worker serves, is a finding unless `services.<key>.takeOver` gives the reason.
Plans only: a deployed stack's state (`--state`) has created or imported everything already.
"""

from __future__ import annotations

from typing import Any, Iterator

from policies.chittyos_guard._rule import (
    D1_DATABASE, DNS_RECORD, KV_NAMESPACE, QUEUE, QUEUE_CONSUMER, R2_BUCKET, TUNNEL, WORKER, WORKERS_CUSTOM_DOMAIN,
    WORKERS_ROUTE, WORKERS_SCRIPT,
)

from ..inventory.model import Inventory
from .sources import StackInput


def _keys(settings: Any) -> dict[str, dict[str, str]]:
    """Physical name -> the stack-file key that declares it, per kind."""
    from .. import naming

    keys: dict[str, dict[str, str]] = {k: {} for k in ("worker", "kv", "queue", "d1", "r2", "tunnel")}
    if settings is None:
        return keys
    env = settings.environment
    for key, service in settings.services.items():
        keys["worker"][naming.physical_script_name(service, env)] = key
    for key, kv in settings.kv_namespaces.items():
        keys["kv"][(kv.adopt.title if kv.adopt and kv.adopt.title else naming.kv_title(key, env))] = key
    for key, queue in settings.queues.items():
        keys["queue"][queue.adopt.name if queue.adopt else naming.queue_name(key, env)] = key
    for key, database in settings.d1_databases.items():
        keys["d1"][database.adopt.name if database.adopt else naming.database_name(key, env)] = key
    for key, bucket in settings.r2_buckets.items():
        keys["r2"][bucket.adopt.name if bucket.adopt else naming.bucket_name(key, env)] = key
    if settings.tunnel:
        keys["tunnel"][naming.tunnel_name(settings.tunnel.name, env)] = "tunnel"
    return keys


def _origin(inventory: Inventory, entry: Any) -> str:
    how = "recorded from documents" if entry.source.value == "documents" else f"read {inventory.refreshed_at or ''}".strip()
    return f"inventory/{inventory.stack.value}.yaml, {how}"


def collision_problems(stack: StackInput, inventory: Inventory, settings: Any) -> Iterator[tuple[str, str]]:
    """(urn, message) for each created object that collides with what runs."""
    keys = _keys(settings)
    services = settings.services if settings is not None else {}
    by_script = {name: key for name, key in keys["worker"].items()}
    created = [r for r in stack.resources if r.get("custom") and not r.get("importId")]
    queue_names = {}
    for record in stack.resources:
        if record["type"] == QUEUE:
            outputs = record.get("outputs") or {}
            for value in (outputs.get("queueId"), outputs.get("id")):
                if value:
                    queue_names[value] = record["inputs"].get("queueName")

    def key_of(kind: str, name: str, fallback: str) -> str:
        key = keys[kind].get(name)
        return fallback.format(key=key) if key else f"(no stack-file entry declares {name})"

    live_workers = {w.name: w for w in inventory.workers}
    live = {
        "kv": {kv.title: kv for kv in inventory.kv_namespaces if kv.title},
        "queue": {q.name: q for q in inventory.queues},
        "d1": {d.name: d for d in inventory.d1_databases},
        "r2": {b.name: b for b in inventory.r2_buckets},
        "tunnel": {t.name: t for t in inventory.tunnels},
    }
    adopt_hint = {
        "kv": ("KV namespace", "kvNamespaces.{key}.adopt.id", lambda e: f"{e.id}"),
        "queue": ("queue", "queues.{key}.adopt", lambda e: f"{{id: {e.id}, name: {e.name}}}"),
        "d1": ("D1 database", "d1Databases.{key}.adopt", lambda e: f"{{id: {e.id}, name: {e.name}}}"),
        "r2": ("R2 bucket", "r2Buckets.{key}.adopt.name", lambda e: e.name),
        "tunnel": ("tunnel", "tunnel.adopt", lambda e: f"{{id: {e.id}, name: {e.name}}}"),
    }
    domains = {d.hostname: (w, d) for w in inventory.workers for d in (w.custom_domains or [])}
    routes = {r.pattern: (w, r) for w in inventory.workers for r in (w.routes or [])}
    consumed = {c.queue: (w, c) for w in inventory.workers for c in (w.queue_consumers or [])}
    records = {r.name: r for r in inventory.dns_records}
    kinds = {KV_NAMESPACE: ("kv", "title"), QUEUE: ("queue", "queueName"), D1_DATABASE: ("d1", "name"),
             R2_BUCKET: ("r2", "name"), TUNNEL: ("tunnel", "name")}

    for record in created:
        inputs, urn, typ = record["inputs"], record["urn"], record["type"]
        if typ in (WORKER, WORKERS_SCRIPT):
            name = inputs.get("name") if typ == WORKER else inputs.get("scriptName")
            if name in live_workers:
                yield urn, (f"Worker {name} already runs ({_origin(inventory, live_workers[name])}); the plan creates "
                            f"it instead of adopting it: set {key_of('worker', name, 'services.{key}.adopt.scriptName')}"
                            f": {name}")
        elif typ in kinds:
            kind, field = kinds[typ]
            name = inputs.get(field)
            if name in live[kind]:
                what, key, value = adopt_hint[kind]
                entry = live[kind][name]
                yield urn, (f"{what} {name} already exists ({_origin(inventory, entry)}); the plan creates a new, empty "
                            f"one: adopt it with {key_of(kind, name, key)}: {value(entry)}")
        elif typ == WORKERS_CUSTOM_DOMAIN:
            host, script = inputs.get("hostname"), inputs.get("service")
            key = by_script.get(script)
            if host in domains:
                worker, domain = domains[host]
                if worker.name == script:
                    yield urn, (f"custom domain {host} of Worker {script} already exists ({_origin(inventory, worker)}); "
                                f"adopt it with services.{key}.adopt.customDomains.{host}: {domain.id or '<domain id>'}")
                elif not (key and host in services[key].take_over.custom_domains):
                    yield urn, (f"custom domain {host} is served by live Worker {worker.name} "
                                f"({_origin(inventory, worker)}); the plan moves it to {script}: state why in "
                                f"services.{key or '<service>'}.takeOver.customDomains.{host}, or leave it")
            elif host in records:
                yield urn, (f"DNS name {host} already has a record ({records[host].type or 'type unknown'}, "
                            f"{_origin(inventory, records[host])}); a custom domain needs the name free: remove "
                            f"{host} from services.{key or '<service>'}.customDomains or delete the record first")
        elif typ == DNS_RECORD:
            name = inputs.get("name")
            if name in records:
                yield urn, (f"DNS name {name} already has a record ({records[name].type or 'type unknown'}, "
                            f"{_origin(inventory, records[name])}); the plan creates a second one: drop it from "
                            f"{_dns_key(settings, name)} (the live record serves it) or delete the live record first")
            elif name in domains:
                worker, _ = domains[name]
                yield urn, (f"DNS name {name} is a custom domain of live Worker {worker.name} "
                            f"({_origin(inventory, worker)}); drop it from {_dns_key(settings, name)}")
        elif typ == WORKERS_ROUTE:
            pattern, script = inputs.get("pattern"), inputs.get("script")
            key = by_script.get(script)
            if pattern in routes and not (key and pattern in services[key].take_over.routes):
                worker, _ = routes[pattern]
                moves = "moves it to" if worker.name != script else "creates it again for"
                yield urn, (f"route {pattern} is served by live Worker {worker.name} ({_origin(inventory, worker)}); "
                            f"the plan {moves} {script}: state why in services.{key or '<service>'}.takeOver.routes, "
                            "and remove the live route right before `pulumi up`")
        elif typ == QUEUE_CONSUMER:
            queue = queue_names.get(inputs.get("queueId"))
            script = inputs.get("scriptName")
            key = by_script.get(script)
            queue_key = keys["queue"].get(queue)
            if queue in consumed and not (key and queue_key in services[key].take_over.queue_consumers):
                worker, _ = consumed[queue]
                yield urn, (f"queue {queue} is consumed by live Worker {worker.name} ({_origin(inventory, worker)}) and "
                            f"a queue has one consumer; the plan adds {script}: remove the live consumer right before "
                            f"`pulumi up` and state why in services.{key or '<service>'}.takeOver.queueConsumers."
                            f"{queue_key or queue}")


def _dns_key(settings: Any, name: str) -> str:
    if settings is not None:
        for key, service in settings.services.items():
            if name in service.route_dns_records:
                return f"services.{key}.routeDnsRecords"
        if settings.tunnel and settings.tunnel.hostname == name:
            return "tunnel.hostname"
    return "the stack file"
