"""What must be unique across the whole stack, not only within one section.

Each rule returns `'<key path>: <problem>; <fix>'` lines pointing at the second use, the one to
change. Names Cloudflare keeps per account (scripts, KV titles, queues, buckets, databases) collide
even when they come from two different sections; a hostname has one owner (a Worker's custom
domain, the tunnel or the load balancer each take it whole); an id is adopted once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import repeats

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .stack import StackConfig


def uniqueness_problems(config: "StackConfig") -> list[str]:
    problems = repeats(((f"services.{name}.scriptName", service.script_name)
                        for name, service in config.services.items()), "script names (one Worker per service)")
    problems += _hostnames(config)
    problems += _adoption(config)
    problems += _physical_names(config)
    problems += repeats(((f"services.{name}.queueConsumers[{i}].queue", consumer.queue)
                         for name, service in config.services.items()
                         for i, consumer in enumerate(service.queue_consumers)),
                        "consumed queues (Cloudflare delivers a queue to one consumer)")
    for name, bucket in config.r2_buckets.items():
        problems += repeats(((f"r2Buckets.{name}.lifecycle[{i}].id", rule.id) for i, rule in enumerate(bucket.lifecycle)),
                            "lifecycle rule ids of a bucket")
        problems += repeats(((f"r2Buckets.{name}.cors[{i}].id", rule.id) for i, rule in enumerate(bucket.cors)),
                            "CORS rule ids of a bucket")
    for name, pool in config.load_balancing.pools.items():
        problems += repeats(((f"loadBalancing.pools.{name}.origins[{i}].name", origin.name)
                             for i, origin in enumerate(pool.origins)), "origin names of a pool")
    return problems


def _hostnames(config: "StackConfig") -> list[str]:
    owners: list[tuple[str, str]] = []
    for name, service in config.services.items():
        owners.extend((f"services.{name}.customDomains[{i}]", host) for i, host in enumerate(service.custom_domains))
    if config.tunnel:
        owners.append(("tunnel.hostname", config.tunnel.hostname))
    if config.load_balancing.enabled and config.load_balancing.hostname:
        owners.append(("loadBalancing.hostname", config.load_balancing.hostname))
    problems = repeats(owners, "hostnames (a custom domain, the tunnel and the load balancer each take the whole "
                               "hostname)")
    owner_of = {}
    for path, host in owners:
        owner_of.setdefault(host, path)
    routes = [(f"services.{name}.routes[{i}]", route)
              for name, service in config.services.items() for i, route in enumerate(service.routes)]
    problems += repeats(routes, "route patterns (one Worker per route)")
    for path, route in routes:
        host = route.split("/", 1)[0]
        owner = owner_of.get(host)
        if owner and not owner.startswith(path.rsplit(".routes", 1)[0] + "."):
            problems.append(f"{path}: {host} is taken whole by {owner}, so this route would never run; "
                            "route another hostname")
    return problems


def _adoption(config: "StackConfig") -> list[str]:
    """An id is adopted once, whatever section adopts it (the list is `chittyos_edge.adoption`'s)."""
    from ..adoption import adopted  # late: adoption builds on the typed config

    items = adopted(config)
    problems: list[str] = []
    for kind in dict.fromkeys(item.kind for item in items):
        problems += repeats(((item.key, item.id) for item in items if item.kind == kind),
                            f"adopted {kind} ids (two entries would import, then manage, one resource)")
    return problems


def _physical_names(config: "StackConfig") -> list[str]:
    """Two entries whose Cloudflare names would be equal (an adopted name equal to a generated one)."""
    from .. import naming  # late: naming builds on this package's base types

    env = config.environment
    problems: list[str] = []

    def names(section: str, stores: dict, build, adopted_field: str):
        for key, store in stores.items():
            adopt = getattr(store, "adopt", None)
            name = getattr(adopt, adopted_field, None) if adopt else None
            if name:
                yield f"{section}.{key}.adopt.{adopted_field}", name
                continue
            try:
                yield f"{section}.{key}", build(key, env)
            except naming.NameTooLong:
                continue  # the preflight reports it, naming the key

    problems += repeats(names("kvNamespaces", config.kv_namespaces, naming.kv_title, "title"), "KV namespace titles")
    problems += repeats(names("queues", config.queues, naming.queue_name, "name"), "queue names")
    problems += repeats(names("d1Databases", config.d1_databases, naming.database_name, "name"), "D1 database names")
    return problems
