"""Refresh a stack's inventory from the real account, read-only, with Cloudflare's official SDK.

Every call is a GET (list or get); the token needs read permissions only (see README, "Inventory").
The account holds both stacks' objects, so each object is written to one stack's file:
- it goes to this stack when this stack file adopts it or its name carries this environment
  (`-staging` / `_staging`, `connect-staging.chitty.cc`);
- it never goes to this stack when the other stack file adopts it or it is named for the other one;
- everything else (legacy names such as `chittyconnect`, other services' DNS names) is production's:
  staging only ever holds what is marked staging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from ..adoption import named_for
from .model import (FORMAT_VERSION, Inventory, LiveBucket, LiveConsumer, LiveCustomDomain, LiveD1Database,
                    LiveDnsRecord, LiveKvNamespace, LiveQueue, LiveRoute, LiveTunnel, LiveWorker, Source)


class RefreshError(Exception):
    """The account could not be read as asked (no such zone, API error): one line, exit 2."""


@dataclass
class Claims:
    """(kind, id or name) pairs a stack file adopts: a Worker and a database may share a name."""

    ids: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, items) -> "Claims":
        """From `chittyos_edge.adoption.adopted(...)`: ids, and live names where the config states them."""
        found = set()
        for item in items:
            found.add((item.kind, item.id))
            if item.name:
                found.add((item.kind, item.name))
        return cls(found)

    def has(self, kind: str, *values: str | None) -> bool:
        return any((kind, v) in self.ids for v in values if v)


def _get(item: Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def read_account(client: Any, account_id: str, zone_name: str) -> dict[str, list[dict[str, Any]]]:
    """Everything the inventory records, as plain dicts, from list/get calls only."""
    zones = list(client.zones.list(name=zone_name, account={"id": account_id}))
    if not zones:
        raise RefreshError(f"zone {zone_name!r} not found in account {account_id} (or the token cannot read it: "
                           "it needs Zone Read on it)")
    zone_id = zones[0].id

    consumers: dict[str, list[LiveConsumer]] = {}
    queues = []
    for queue in client.queues.list(account_id=account_id):
        queues.append({"id": queue.queue_id, "name": queue.queue_name})
        for consumer in queue.consumers or []:
            script = _get(consumer, "script_name", "script", "service")
            if script and _get(consumer, "type") in (None, "worker"):
                consumers.setdefault(script, []).append(
                    LiveConsumer(queue=queue.queue_name, id=_get(consumer, "consumer_id")))

    domains: dict[str, list[LiveCustomDomain]] = {}
    for domain in client.workers.domains.list(account_id=account_id):
        domains.setdefault(domain.service, []).append(LiveCustomDomain(hostname=domain.hostname, id=domain.id))
    routes: dict[str, list[LiveRoute]] = {}
    for route in client.workers.routes.list(zone_id=zone_id):
        if route.script:
            routes.setdefault(route.script, []).append(LiveRoute(pattern=route.pattern, id=route.id))

    workers = []
    for script in client.workers.scripts.list(account_id=account_id):
        name = script.id
        subdomain = client.workers.scripts.subdomain.get(name, account_id=account_id)
        observability = _get(script, "observability")
        workers.append({
            "name": name, "tag": _get(script, "tag"), "workers_dev": bool(subdomain.enabled),
            "custom_domains": sorted(domains.get(name, []), key=lambda d: d.hostname),
            "routes": sorted(routes.get(name, []), key=lambda r: r.pattern),
            "queue_consumers": sorted(consumers.get(name, []), key=lambda c: c.queue),
            "logpush": _get(script, "logpush"),
            "observability": _get(observability, "enabled") if observability is not None else None,
        })

    buckets = client.r2.buckets.list(account_id=account_id)
    return {
        "workers": workers,
        "kv_namespaces": [{"id": ns.id, "title": ns.title} for ns in client.kv.namespaces.list(account_id=account_id)],
        "d1_databases": [{"id": db.uuid, "name": db.name} for db in client.d1.database.list(account_id=account_id)],
        "queues": queues,
        "r2_buckets": [{"name": b.name, "jurisdiction": _get(b, "jurisdiction") or "default"}
                       for b in (buckets.buckets or [])],
        "tunnels": [{"id": t.id, "name": t.name}
                    for t in client.zero_trust.tunnels.cloudflared.list(account_id=account_id, is_deleted=False)],
        "dns_records": [{"name": r.name, "type": r.type, "proxied": _get(r, "proxied"), "id": r.id}
                        for r in client.dns.records.list(zone_id=zone_id)],
    }


def _belongs(stack: str, other: str, own: Claims, theirs: Claims, kind: str, *keys: str | None,
             name: str | None) -> bool:
    if own.has(kind, *keys) or named_for(name, stack):
        return True
    if theirs.has(kind, *keys) or named_for(name, other):
        return False
    return stack == "production"


def build_inventory(snapshot: dict[str, list[dict[str, Any]]], *, stack: str, account_id: str, zone: str,
                    own: Claims, theirs: Claims, now: datetime | None = None) -> Inventory:
    """This stack's share of the account, every entry `source: account`."""
    other = "staging" if stack == "production" else "production"

    def mine(items: Iterable[dict[str, Any]], kind: str, *id_keys: str, name_key: str) -> list[dict[str, Any]]:
        return [dict(item, source=Source.ACCOUNT) for item in items
                if _belongs(stack, other, own, theirs, kind, *(item.get(k) for k in id_keys), name=item.get(name_key))]

    stamp = (now or datetime.now(timezone.utc)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Inventory(
        format_version=FORMAT_VERSION, stack=stack, account=account_id, zone=zone, refreshed_at=stamp,
        workers=[LiveWorker(**w) for w in sorted(mine(snapshot["workers"], "worker", "name", name_key="name"),
                                                  key=lambda w: w["name"])],
        kv_namespaces=[LiveKvNamespace(**k) for k in sorted(mine(snapshot["kv_namespaces"], "kv", "id", name_key="title"),
                                                            key=lambda k: k["id"])],
        d1_databases=[LiveD1Database(**d) for d in sorted(mine(snapshot["d1_databases"], "d1", "id", "name", name_key="name"),
                                                          key=lambda d: d["name"])],
        queues=[LiveQueue(**q) for q in sorted(mine(snapshot["queues"], "queue", "id", "name", name_key="name"),
                                               key=lambda q: q["name"])],
        r2_buckets=[LiveBucket(**b) for b in sorted(mine(snapshot["r2_buckets"], "r2", "name", name_key="name"),
                                                    key=lambda b: b["name"])],
        tunnels=[LiveTunnel(**t) for t in sorted(mine(snapshot["tunnels"], "tunnel", "id", "name", name_key="name"),
                                                 key=lambda t: t["name"])],
        dns_records=[LiveDnsRecord(**r) for r in sorted(mine(snapshot["dns_records"], "dns", "id", name_key="name"),
                                                        key=lambda r: (r["name"], r.get("type") or ""))],
    )


def changes(before: Inventory | None, after: Inventory) -> list[str]:
    """Lines saying what a refresh added or removed, by section."""
    def keys(inventory: Inventory | None) -> dict[str, set[str]]:
        if inventory is None:
            return {}
        return {
            "workers": {w.name for w in inventory.workers},
            "kvNamespaces": {k.id for k in inventory.kv_namespaces},
            "d1Databases": {d.id for d in inventory.d1_databases},
            "queues": {q.name for q in inventory.queues},
            "r2Buckets": {b.name for b in inventory.r2_buckets},
            "tunnels": {t.name for t in inventory.tunnels},
            "dnsRecords": {f"{r.name} {r.type}" for r in inventory.dns_records},
        }

    old, new = keys(before), keys(after)
    lines = []
    for section, values in new.items():
        added, removed = sorted(values - old.get(section, set())), sorted(old.get(section, set()) - values)
        if added:
            lines.append(f"  {section}: + {', '.join(added)}")
        if removed:
            lines.append(f"  {section}: - {', '.join(removed)} (recorded before, not in the account now)")
    return lines
