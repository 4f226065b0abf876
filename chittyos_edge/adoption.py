"""What a stack adopts (imports as it runs today), listed once for every check that needs it.

An adopted resource is imported by id and keeps its live name. The checks built on this list:
- within one stack (config validation): an id is adopted once (`config.uniqueness`); production
  adopts nothing named for staging;
- across stacks (preflight, reads the other stack file and the inventories): staging adopts
  nothing production owns, production nothing staging owns;
- the gate's collision rule (`chittyos_edge.gate.collisions`) names the key that adopts a live object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .config.stack import StackConfig


@dataclass(frozen=True)
class Adopted:
    kind: str          # worker | kv | queue | d1 | r2 | tunnel | customDomain | route
    key: str           # config key path that adopts it, e.g. kvNamespaces.chittyconnect-tokens.adopt.id
    id: str            # the id it is imported by (a Worker's or bucket's name)
    name: str | None   # the live name, when the config states it


def adopted(settings: "StackConfig") -> list[Adopted]:
    return list(_adopted(settings))


def _adopted(settings: "StackConfig") -> Iterator[Adopted]:
    for key, kv in settings.kv_namespaces.items():
        if kv.adopt:
            yield Adopted("kv", f"kvNamespaces.{key}.adopt.id", kv.adopt.id, kv.adopt.title)
    for key, queue in settings.queues.items():
        if queue.adopt:
            yield Adopted("queue", f"queues.{key}.adopt.id", queue.adopt.id, queue.adopt.name)
    for key, database in settings.d1_databases.items():
        if database.adopt:
            yield Adopted("d1", f"d1Databases.{key}.adopt.id", database.adopt.id, database.adopt.name)
    for key, bucket in settings.r2_buckets.items():
        if bucket.adopt:
            yield Adopted("r2", f"r2Buckets.{key}.adopt.name", bucket.adopt.name, bucket.adopt.name)
    for key, service in settings.services.items():
        if service.adopt:
            yield Adopted("worker", f"services.{key}.adopt.scriptName", service.adopt.script_name,
                          service.adopt.script_name)
            for host, domain_id in service.adopt.custom_domains.items():
                yield Adopted("customDomain", f"services.{key}.adopt.customDomains.{host}", domain_id, host)
            for pattern, route_id in service.adopt.routes.items():
                yield Adopted("route", f"services.{key}.adopt.routes.{pattern}", route_id, pattern)
    if settings.tunnel and settings.tunnel.adopt:
        yield Adopted("tunnel", "tunnel.adopt.id", settings.tunnel.adopt.id, settings.tunnel.adopt.name)


def named_for(name: str | None, environment: str) -> bool:
    """A name that says which environment it belongs to (`x-staging`, `x_staging`, `x-staging.chitty.cc`)."""
    if not name:
        return False
    first = name.split("/", 1)[0].split(".", 1)[0]
    return first.endswith(f"-{environment}") or first.endswith(f"_{environment}")


def problems_within(settings: "StackConfig") -> list[str]:
    """Adoption rules one stack file can break on its own (an id adopted twice is one of the stack's
    uniqueness rules, `chittyos_edge.config.uniqueness`): one line per problem, naming the key."""
    problems: list[str] = []
    for item in adopted(settings):
        if settings.is_production and named_for(item.name, "staging"):
            problems.append(f"{item.key}: production adopts {item.name!r}, which is named for staging; "
                            "adopt it in the staging stack file, never in production")
    return problems
