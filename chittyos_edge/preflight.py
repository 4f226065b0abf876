"""Checks of the stack config against the files and limits it relies on, before any resource exists.

Config validation (`chittyos_edge.config`) sees only the stack file. These checks also look at
the repository (bundles, migration files) and at what the components will build (binding names
per script, physical name lengths), and fail with one line per problem naming the config key
and the fix.
"""

from __future__ import annotations

from . import PROJECT, d1_migrations, naming
from .config import ConfigError, StackConfig
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
        name_ok(f"kvNamespaces.{key}", lambda key=key: naming.kv_title(key, env))
    for key in settings.queues:
        name_ok(f"queues.{key}", lambda key=key: naming.queue_name(key, env))
    for key in settings.r2_buckets:
        name_ok(f"r2Buckets.{key}", lambda key=key: naming.bucket_name(key, env))
    for key, database in settings.d1_databases.items():
        name_ok(f"d1Databases.{key}", lambda key=key: naming.database_name(key, env))
        if database.migrations:
            try:
                d1_migrations.load_directory(project.path(database.migrations.directory))
            except d1_migrations.MigrationError as error:
                problems.append(f"{prefix}d1Databases.{key}.migrations.directory: {error}")

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
