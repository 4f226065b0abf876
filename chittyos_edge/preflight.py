"""Checks of the stack config against the files and limits it relies on, before any resource exists.

Config validation (`chittyos_edge.config`) sees only the stack file. These checks also look at
the repository (bundles, migration files) and at what the components will build (binding names
per script, physical name lengths), and fail with one line per problem naming the config key
and the fix.
"""

from __future__ import annotations

from typing import Callable

from . import PROJECT, d1_migrations, naming
from .config import ConfigError, StackConfig
from .config.errors import cut_key
from .project import Project


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
        bundle = project.path(service.bundle)
        if not bundle.is_file():
            problems.append(f"{prefix}services.{key}.bundle: {service.bundle} does not exist under {project.root}; "
                            "build the bundle there or point bundle at an existing file "
                            "(the repo ships workers/<service>/worker.mjs)")
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
