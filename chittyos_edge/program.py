"""The Pulumi program: typed config in, components out, stack outputs exported.

`main()` is what `__main__.py` runs under `pulumi up` and what the offline plan runs under
mocks. Components get typed config objects; none of them reads `pulumi.Config`.
"""

from __future__ import annotations

from pathlib import Path
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

from . import config as stack_config
from .outputs_contract import build_outputs
from .preflight import check_deployable, check_pinned_bundles

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build(loaded: stack_config.LoadedConfig, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Declare every resource of the stack; returns the stack outputs."""
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
        protection=settings.data_protection, project_root=project_root)

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
            protection=settings.data_protection, project_root=project_root,
            access_credentials=(tunnel.credentials(service.access_credentials.service_token)
                                if tunnel is not None and service.access_credentials else None))
        for name, service in settings.services.items()
    }

    if settings.edge_security:
        EdgeSecurity(f"{env}-edge-security", zone_id=zone_id, zone_name=settings.zone.name,
                     security=settings.edge_security)

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

    return build_outputs(settings, services=services, stores=stores, storage=storage, hosts=hosts,
                         tunnel=tunnel, monitoring=monitoring, load_balancing=load_balancing)


def offline() -> bool:
    """True under the offline plan (and unit tests): Pulumi's mock monitor, not the engine."""
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor

    return isinstance(settings.SETTINGS.monitor, MockMonitor)


def main() -> dict[str, Any]:
    """Load the config (failing cleanly on bad input), build the stack, export its outputs."""
    try:
        loaded = stack_config.load()
        check_deployable(loaded.settings, PROJECT_ROOT, f"Pulumi.{loaded.stack}.yaml")
        if not offline():
            # A real preview/up uploads what it names: the pinned files must be there, byte for byte.
            check_pinned_bundles(loaded.settings, PROJECT_ROOT, f"Pulumi.{loaded.stack}.yaml")
    except stack_config.ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    outputs = build(loaded)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
