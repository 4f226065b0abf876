"""The Pulumi program: typed config in, components out, stack outputs exported.

`main()` is what `__main__.py` runs under `pulumi up` and what the offline plan runs under
mocks. Components get typed config objects; none of them reads `pulumi.Config`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from components.data_stores import DataStores
from components.document_storage import DocumentStorage
from components.durable_objects import DurableObjectHost
from components.edge_security import EdgeSecurity
from components.load_balancing import LoadBalancing
from components.monitoring import Monitoring
from components.secure_tunnel import SecureTunnel
from components.worker_service import WorkerService

from . import PROJECT
from . import config as stack_config
from .config.base import Environment
from .config.edge import deployed_problems
from .outputs_contract import build_outputs
from .preflight import check_deployable, check_pinned_bundles
from .project import Project, ProjectError


def served_hostnames(settings: stack_config.StackConfig,
                     project: Project) -> dict[Environment, dict[str, list[str]]]:
    """Hostnames per environment and owner that the zone rules may cover.

    Production's rules reach staging's hostnames only where a rule lists `staging` in `environments`;
    those come from the project's Pulumi.staging.yaml.
    """
    served = {settings.environment: settings.served_by_owner()}
    security = settings.edge_security
    if security is None or settings.environment is Environment.STAGING:
        return served
    scoped = [*security.waf_custom_rules, *security.managed_rulesets, *security.rate_limits,
              *security.cache_rules, security.security_headers]
    if any(Environment.STAGING in rule.environments for rule in scoped):
        from .plan.runtime import PlanError, read_stack_file

        prefix = f"{PROJECT}:"
        try:
            file_config = read_stack_file("staging", project)
        except (PlanError, ProjectError) as error:
            raise stack_config.ConfigError([
                f"edgeSecurity: rules that list staging in environments cover the hostnames of Pulumi.staging.yaml, "
                f"which cannot be read ({error}); keep it beside Pulumi.production.yaml or remove staging "
                "from those environments"]) from None
        raw = {k[len(prefix):]: v for k, v in file_config.items() if k.startswith(prefix)}
        staging = stack_config.parse_stack_config(raw, "Pulumi.staging.yaml", "staging")
        served[Environment.STAGING] = staging.served_by_owner()
        # Production's own sites were checked with its config; staging's are known only now.
        problems = deployed_problems(security, served, settings.zone.plan)
        if problems:
            raise stack_config.ConfigError([f"Pulumi.production.yaml: {PROJECT}:{line}" for line in problems])
    return served


def build(loaded: stack_config.LoadedConfig, project: Project,
          served: dict[Environment, dict[str, list[str]]] | None = None) -> dict[str, Any]:
    """Declare every resource of the stack (bundles and migrations read from `project`); returns
    the stack outputs."""
    settings = loaded.settings
    env = settings.environment
    account_id = settings.account.id
    zone_id = cloudflare.get_zone_output(
        filter={"name": settings.zone.name, "match": "all", "account": {"id": account_id}}).id

    stores = DataStores(
        f"{env}-data", account_id=account_id, environment=env,
        kv_namespaces=settings.kv_namespaces, queues=settings.queues,
        protection=settings.data_protection)
    storage = DocumentStorage(
        f"{env}-storage", account_id=account_id, environment=env,
        r2_buckets=settings.r2_buckets, d1_databases=settings.d1_databases,
        protection=settings.data_protection, project=project)

    hosts = {
        name: DurableObjectHost(
            f"{env}-{name}-objects", environment=env, host=host,
            kv_namespaces=stores.kv_namespaces, buckets=storage.buckets, config_key=name)
        for name, host in settings.durable_objects.items()
    }
    hosts_by_service = {host.host_service: hosts[name] for name, host in settings.durable_objects.items()}

    # The tunnel comes first: its Access service tokens are bound to the Workers that call it.
    tunnel = None
    if settings.tunnel:
        tunnel = SecureTunnel(
            f"{env}-tunnel", account_id=account_id, zone_id=zone_id, environment=env, tunnel=settings.tunnel)

    services = {
        name: WorkerService(
            f"{env}-{name}", account_id=account_id, zone_id=zone_id, environment=env,
            service_key=name, service=service, secrets=loaded.secrets.for_service(name),
            stores=stores, storage=storage, durable_objects=hosts_by_service.get(name),
            protection=settings.data_protection, project=project,
            access_credentials=(tunnel.credentials(service.access_credentials.service_token)
                                if tunnel is not None and service.access_credentials else None))
        for name, service in settings.services.items()
    }

    if settings.edge_security:
        EdgeSecurity(f"{env}-edge-security", zone_id=zone_id, zone_name=settings.zone.name,
                     security=settings.edge_security, served=served or served_hostnames(settings, project))

    monitoring = Monitoring(
        f"{env}-monitoring", account_id=account_id, zone_id=zone_id, environment=env,
        monitoring=settings.monitoring, secrets=loaded.secrets,
        access_headers=tunnel.health_check_headers if tunnel else None,
        tunnel_id=tunnel.tunnel_id if tunnel else None)

    load_balancing = None
    if settings.load_balancing.enabled:
        load_balancing = LoadBalancing(
            f"{env}-load-balancing", account_id=account_id, zone_id=zone_id, environment=env,
            load_balancing=settings.load_balancing)

    return build_outputs(settings, services=services, stores=stores, storage=storage,
                         tunnel=tunnel, monitoring=monitoring, load_balancing=load_balancing)


def offline() -> bool:
    """True under the offline plan (and unit tests): Pulumi's mock monitor, not the engine."""
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor

    return isinstance(settings.SETTINGS.monitor, MockMonitor)


def main(project: Project | None = None) -> dict[str, Any]:
    """Load the config (failing cleanly on bad input), build the stack, export its outputs.

    Under `pulumi up` the project is the one the working directory is in (Pulumi runs the program
    in the project's folder); the offline plan passes the one it plans.
    """
    try:
        project = project or Project.discover()
        loaded = stack_config.load()
        check_deployable(loaded.settings, project, f"Pulumi.{loaded.stack}.yaml")
        if not offline():
            # A real preview/up uploads what it names: the pinned files must be there, byte for byte.
            check_pinned_bundles(loaded.settings, project, f"Pulumi.{loaded.stack}.yaml")
        served = served_hostnames(loaded.settings, project)
    except (stack_config.ConfigError, ProjectError) as error:
        raise pulumi.RunError(str(error)) from None
    outputs = build(loaded, project, served)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
