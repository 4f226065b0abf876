"""Checks of the stack config against the files and limits it relies on, before any resource exists.

Config validation (`chittyos_edge.config`) sees only the stack file. These checks also look at
the repository (bundles, migration files) and at what the components will build (binding names
per script, physical name lengths), and fail with one line per problem naming the config key
and the fix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from . import PROJECT, d1_migrations, naming
from .adoption import adopted, named_for
from .config import ConfigError, StackConfig
from .config.errors import cut_key
from .config.services import CodeSource
from .project import Project

# The first line of every reference bundle under workers/ (see workers/README.md).
REFERENCE_MARKER = "chittyos-edge: reference bundle"
# sha256 of zero bytes: what a build pin holds until the first release of the application is pinned.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def check_deployable(settings: StackConfig, project: Project, source: str) -> None:
    """Raise ConfigError listing every problem; return quietly when the stack can be built."""
    problems: list[str] = []
    env = settings.environment
    prefix = f"{source}: {PROJECT}:"

    def name_ok(key_path: str, build) -> None:
        try:
            build()
        except naming.NameTooLong as error:
            problems.append(f"{prefix}{key_path}: {error}")

    for key in settings.kv_namespaces:
        name_ok(f"kvNamespaces.{cut_key(key)}", lambda key=key: naming.kv_title(key, env))
    for key in settings.queues:
        name_ok(f"queues.{cut_key(key)}", lambda key=key: naming.queue_name(key, env))
    for key in settings.r2_buckets:
        name_ok(f"r2Buckets.{cut_key(key)}", lambda key=key: naming.bucket_name(key, env))
    for key, database in settings.d1_databases.items():
        name_ok(f"d1Databases.{cut_key(key)}", lambda key=key: naming.database_name(key, env))
        if database.migrations:
            try:
                d1_migrations.load_directory(project.path(database.migrations.directory))
            except d1_migrations.MigrationError as error:
                problems.append(f"{prefix}d1Databases.{key}.migrations.directory: {error}")

    _edge_names(settings, name_ok)

    hosts = {host.host_service: (key, host) for key, host in settings.durable_objects.items()}
    for key, service in settings.services.items():
        name_ok(f"services.{key}.scriptName", lambda service=service: naming.script_name(service.script_name, env))
        problems += _code_problems(settings, key, service, project, prefix)
        for binding, base in service.bindings.analytics_engine.items():
            name_ok(f"services.{key}.bindings.analyticsEngine.{binding}",
                    lambda base=base: naming.dataset_name(base, env))
        names = (list(service.vars) + list(service.secrets) + list(service.bindings.kv)
                 + list(service.bindings.r2) + list(service.bindings.d1) + list(service.bindings.queues)
                 + list(service.bindings.analytics_engine) + ([service.bindings.ai] if service.bindings.ai else []))
        owners = {name: f"services.{key}" for name in names}
        if key in hosts:
            host_key, host = hosts[key]
            extra = list(host.classes)
            if host.kv_fallback:
                extra.append(host.kv_fallback_binding)
            if host.snapshots:
                extra.append(host.snapshots.binding)
            names += extra
            owners.update({name: f"durableObjects.{host_key}" for name in extra if name not in owners})
        repeated = sorted({n for n in names if names.count(n) > 1})
        for name in repeated:
            problems.append(f"{prefix}services.{key}: binding name {name} is used twice in one script "
                            f"(see {owners[name]}); rename one of them")
    problems += _served_problems(settings, project, prefix)
    problems += _adoption_problems(settings, project, prefix)
    if problems:
        raise ConfigError(problems)


def _edge_names(settings: StackConfig, name_ok: Callable[[str, Callable[[], str]], None]) -> None:
    """The names the edge components build from config keys (tunnel, Access, checks, alerts, pools)."""
    env = settings.environment
    if settings.tunnel:
        tunnel = settings.tunnel
        name_ok("tunnel.name", lambda: naming.tunnel_name(tunnel.name, env))
        for role in ("machines", "people"):
            name_ok("tunnel.name", lambda role=role: naming.label(f"{tunnel.name}-{role}", env))
        for i, token in enumerate(tunnel.access.service_tokens):
            name_ok(f"tunnel.access.serviceTokens[{i}]", lambda token=token: naming.label(f"{tunnel.name}-{token}", env))
    for i, check in enumerate(settings.monitoring.health_checks):
        name_ok(f"monitoring.healthChecks[{i}].name", lambda check=check: naming.label(check.name, env))
    for i, alert in enumerate(settings.monitoring.alerts):
        name_ok(f"monitoring.alerts[{i}].name", lambda alert=alert: naming.label(alert.name, env))
    lb = settings.load_balancing
    if lb.enabled:
        if lb.hostname:
            name_ok("loadBalancing.hostname", lambda: naming.label(f"{lb.hostname}-monitor", env))
        for key in lb.pools:
            name_ok(f"loadBalancing.pools.{cut_key(key)}", lambda key=key: naming.label(key, env))


def is_reference_bundle(path: Path) -> bool:
    with path.open("rb") as handle:
        return REFERENCE_MARKER.encode() in handle.read(300)


def _code_problems(settings: StackConfig, key: str, service, project: Project, prefix: str) -> list[str]:
    """What the offline plan can check of a service's code (stable, and a canary's): a reference bundle
    exists, stays out of production and differs from the other version's; a pinned build needs only its
    hash here (the file is checked by a real preview/up)."""
    problems = []
    digests: dict[str, str] = {}
    for role, (code_key, code) in service.codes().items():
        where = f"{prefix}services.{key}.{code_key}"
        if code.source is CodeSource.REFERENCE:
            path = project.path(code.bundle)
            if not path.is_file():
                problems.append(f"{where}.bundle: {code.bundle} does not exist under {project.root} (the repo ships "
                                "workers/<service>/worker.mjs)")
                continue
            digests[role] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif code.source is CodeSource.BUILD:
            digests[role] = code.sha256
            path = project.path(code.bundle)
            if settings.is_production and path.is_file() and is_reference_bundle(path):
                problems.append(f"{where}.bundle: {code.bundle} is a reference bundle (a stub answering /health "
                                "only); production deploys live code or a real build of the application")
    if "canary" in digests and digests["canary"] == digests.get("stable"):
        problems.append(f"{prefix}services.{key}.canary.code: the same bundle (sha256 {digests['canary']}) as "
                        "code, the stable version; a canary runs another build")
    return problems


def check_pinned_bundles(settings: StackConfig, project: Project, source: str) -> None:
    """Under a real preview/up: every pinned build (a canary's too) is on disk with its pinned sha256, or the
    run stops naming the key and the command that fetches it."""
    problems = []
    prefix = f"{source}: {PROJECT}:"
    for key, service in settings.services.items():
        for code_key, code in service.codes().values():
            if code.source is not CodeSource.BUILD:
                continue
            where = f"{prefix}services.{key}.{code_key}"
            path = project.path(code.bundle)
            if code.sha256 == EMPTY_SHA256:
                problems.append(f"{where}.sha256: no release of this service is pinned yet (the sha256 of an empty "
                                f"file); fetch its build ({code.fetch}) and pin bundle and sha256 to it")
            elif not path.is_file():
                problems.append(f"{where}.bundle: {code.bundle} is missing; fetch the pinned build first: {code.fetch}")
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != code.sha256:
                    problems.append(f"{where}.sha256: {code.bundle} has sha256 {digest}, the stack pins {code.sha256}; "
                                    f"fetch the pinned build again ({code.fetch}) or pin the new one on purpose")
                elif is_reference_bundle(path) and settings.is_production:
                    problems.append(f"{where}.bundle: {code.bundle} is a reference bundle; production never runs one")
    if problems:
        raise ConfigError(problems)


def _inventory(stack: str, project: Project):
    from .inventory import load

    return load(stack, project.root)


def _served_problems(settings: StackConfig, project: Project, prefix: str) -> list[str]:
    """Every route's host and every enabled load-balancer origin is served: by this stack (a custom
    domain, a route placeholder record, the tunnel) or by a live object the inventory lists."""
    inventory = _inventory(settings.environment.value, project)
    live = inventory.proxied_hostnames() if inventory else {}
    listed = set(live) | ({r.name for r in inventory.dns_records} if inventory else set())
    where_inventory = f"inventory/{settings.environment.value}.yaml"
    declared: dict[str, str] = {}
    for key, service in settings.services.items():
        for host in service.custom_domains:
            declared.setdefault(host, f"services.{key}.customDomains")
        for host in service.route_dns_records:
            declared.setdefault(host, f"services.{key}.routeDnsRecords")
    if settings.tunnel:
        declared.setdefault(settings.tunnel.hostname, "tunnel.hostname")
    problems = []
    for key, service in settings.services.items():
        for index, pattern in enumerate(service.routes):
            host = pattern.split("/", 1)[0]
            if host.startswith("*."):
                continue  # a wildcard route serves whatever records exist under it
            if host not in declared and host not in live:
                problems.append(
                    f"{prefix}services.{key}.routes[{index}]: the route's host {host} has no proxied DNS record: "
                    f"this stack declares none and {where_inventory} lists none, so the route never sees a request; "
                    f"add {host} to services.{key}.routeDnsRecords (a proxied placeholder record) or create the record")
    lb = settings.load_balancing
    if lb.enabled:
        zone = settings.zone.name
        for pool_key, pool in lb.pools.items():
            for index, origin in enumerate(pool.origins):
                address = origin.address
                if not origin.enabled or not (address == zone or address.endswith("." + zone)):
                    continue
                if address not in declared and address not in listed:
                    problems.append(
                        f"{prefix}loadBalancing.pools.{pool_key}.origins[{index}] ({origin.name}): {address} is "
                        f"served by nothing: no custom domain, route record or tunnel of this stack, and no record in "
                        f"{where_inventory}; the origin would be down from the first deploy. Serve it, or drop or "
                        "disable the origin")
    return problems


def _adoption_problems(settings: StackConfig, project: Project, prefix: str) -> list[str]:
    """Staging adopts nothing production owns, production nothing staging owns (the other stack file's
    adoptions and the other stack's inventory), and production adopts no id the inventories name for staging."""
    from .config import parse_stack_config

    stack = settings.environment.value
    other = "staging" if stack == "production" else "production"
    owned: dict[tuple[str, str], str] = {}
    other_file = project.stack_file(other)
    if other_file.is_file():
        from .plan.runtime import read_stack_file

        raw = {k[len(PROJECT) + 1:]: v for k, v in read_stack_file(other, project).items()
               if k.startswith(f"{PROJECT}:")}
        try:
            other_settings = parse_stack_config(raw, other_file.name, other)
        except ConfigError:
            other_settings = None  # its own plan reports it
        if other_settings is not None:
            owned.update({(item.kind, item.id): f"{other_file.name} {item.key}" for item in adopted(other_settings)})
    other_inventory = _inventory(other, project)
    names: dict[tuple[str, str], str | None] = {}
    if other_inventory:
        for key, (what, name) in other_inventory.objects().items():
            owned.setdefault(key, f"inventory/{other}.yaml: {what}")
            names[key] = name
    own_inventory = _inventory(stack, project)
    if own_inventory:
        names.update({key: name for key, (_, name) in own_inventory.objects().items()})
    problems = []
    for item in adopted(settings):
        key = (item.kind, item.id)
        if key in owned:
            problems.append(f"{prefix}{item.key}: {stack} adopts {item.id!r}, which {other} owns ({owned[key]}); "
                            f"a stack adopts only its own objects: a {stack} destroy must never touch {other} data")
        elif stack == "production" and named_for(names.get(key), "staging"):
            problems.append(f"{prefix}{item.key}: production adopts {item.id!r}, live as {names[key]!r}, "
                            "which is named for staging; adopt it in the staging stack file")
    return problems
