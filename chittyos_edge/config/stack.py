"""The root of the typed stack config and the cross-section rules."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import CloudflareId, ConfigModel, Environment, Hostname
from .edge import (TUNNEL_OWNER, EdgeSecurityConfig, LoadBalancingConfig, MonitoringConfig, TunnelConfig,
                   edge_problems, plan_problems, scope_problems)
from .plans import ZonePlan
from .services import DurableObjectHost, WorkerService
from .storage import Backups, D1Database, KvNamespace, Queue, R2Bucket
from .errors import closest_key, repeats, shown
from .uniqueness import uniqueness_problems


class Account(ConfigModel):
    id: CloudflareId = Field(description="Cloudflare account id.")


class Zone(ConfigModel):
    name: Hostname = Field(description="The zone, e.g. chitty.cc; looked up by name.")
    plan: ZonePlan = Field(
        description="The zone's Cloudflare plan (free, pro, business, enterprise). Validation refuses rules, "
                    "health checks and alerts the plan does not include (chittyos_edge/config/plans.py).")


class DataProtection(ConfigModel):
    """Pulumi options applied to every stateful resource (KV, R2, D1, queues, Durable Object hosts)."""

    protect: bool = Field(description="Refuse to delete or replace: `pulumi up` fails instead of losing data.")
    retain_on_delete: bool = Field(description="Leave the resource in Cloudflare when it leaves the program.")


class StackConfig(ConfigModel):
    environment: Environment
    account: Account
    zone: Zone
    data_protection: DataProtection
    kv_namespaces: dict[str, KvNamespace] = Field(default_factory=dict)
    queues: dict[str, Queue] = Field(default_factory=dict)
    r2_buckets: dict[str, R2Bucket] = Field(default_factory=dict)
    d1_databases: dict[str, D1Database] = Field(default_factory=dict)
    services: dict[str, WorkerService] = Field(default_factory=dict)
    durable_objects: dict[str, DurableObjectHost] = Field(default_factory=dict)
    tunnel: TunnelConfig | None = None
    edge_security: EdgeSecurityConfig | None = Field(
        None, description="Zone-wide singletons (zone settings, ruleset phase entry points, DNSSEC): production only.")
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    load_balancing: LoadBalancingConfig = Field(default_factory=LoadBalancingConfig)
    backups: Backups | None = Field(None, description="The bucket `chittyos-edge backup` writes to.")

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    def public_hostnames(self) -> list[str]:
        """Every hostname this stack serves, in declaration order."""
        return list(dict.fromkeys(host for _, host in self.hostname_keys()))

    def hostname_keys(self) -> list[tuple[str, str]]:
        """(key path, hostname) of every hostname this stack serves, in declaration order."""
        found: list[tuple[str, str]] = []
        for name, service in self.services.items():
            found.extend((f"services.{name}.customDomains[{i}]", host) for i, host in enumerate(service.custom_domains))
            found.extend((f"services.{name}.routes[{i}]", route.split("/", 1)[0])
                         for i, route in enumerate(service.routes))
        if self.tunnel:
            found.append(("tunnel.hostname", self.tunnel.hostname))
        if self.load_balancing.enabled and self.load_balancing.hostname:
            found.append(("loadBalancing.hostname", self.load_balancing.hostname))
        return found

    def served_by_owner(self) -> dict[str, list[str]]:
        """What each service (and 'tunnel') serves: a hostname, or 'host/prefix/' for a Worker route (the
        rest of that host belongs to someone else). The load balancer's hostname belongs to the services
        whose hostnames are its origins."""
        owners: dict[str, list[str]] = {}
        for key, service in self.services.items():
            owners[key] = list(dict.fromkeys(
                [*service.custom_domains, *(route.rstrip("*") for route in service.routes)]))
        if self.tunnel:
            owners[TUNNEL_OWNER] = [self.tunnel.hostname]
        lb = self.load_balancing
        if lb.enabled and lb.hostname:
            origins = {origin.address for pool in lb.pools.values() for origin in pool.origins}
            for hosts in owners.values():
                if origins & set(hosts) and lb.hostname not in hosts:
                    hosts.append(lb.hostname)
        return owners

    def hostnames_by_owner(self) -> dict[str, list[str]]:
        """The hostnames each owner answers on (whole or under a route prefix)."""
        return {owner: list(dict.fromkeys(entry.split("/", 1)[0] for entry in served))
                for owner, served in self.served_by_owner().items()}

    @model_validator(mode="after")
    def _cross_section(self) -> "StackConfig":
        problems: list[str] = []
        problems += self._check_references()
        problems += self._check_environment_rules()
        problems += uniqueness_problems(self)
        problems += self._check_backups()
        problems += self._check_code_and_adoption()
        if not problems:
            # Monitoring rules build on valid hostnames: checked once those are right, so that one
            # mistake (e.g. a wrong custom domain) reads as one line, not three.
            problems += edge_problems(self)
            problems += scope_problems(self)
            problems += plan_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _check_references(self) -> list[str]:
        problems = []

        def need(kind: str, key: str, known: dict, where: str) -> None:
            if key not in known:
                guess = closest_key(key, list(known))
                hint = f"did you mean {guess!r}?" if guess else f"declared: {', '.join(sorted(known)) or 'none'}"
                problems.append(f"{where}: refers to {kind} {shown(key)}, which is not declared; {hint}")

        for name, service in self.services.items():
            b = service.bindings
            for binding, key in b.kv.items():
                need("kvNamespaces", key, self.kv_namespaces, f"services.{name}.bindings.kv.{binding}")
            for binding, key in b.r2.items():
                need("r2Buckets", key, self.r2_buckets, f"services.{name}.bindings.r2.{binding}")
            for binding, key in b.d1.items():
                need("d1Databases", key, self.d1_databases, f"services.{name}.bindings.d1.{binding}")
            for binding, key in b.queues.items():
                need("queues", key, self.queues, f"services.{name}.bindings.queues.{binding}")
            for i, consumer in enumerate(service.queue_consumers):
                need("queues", consumer.queue, self.queues, f"services.{name}.queueConsumers[{i}].queue")
                if consumer.dead_letter_queue:
                    need("queues", consumer.dead_letter_queue, self.queues,
                         f"services.{name}.queueConsumers[{i}].deadLetterQueue")
        for name, host in self.durable_objects.items():
            need("services", host.host_service, self.services, f"durableObjects.{name}.hostService")
            if host.kv_fallback:
                need("kvNamespaces", host.kv_fallback, self.kv_namespaces, f"durableObjects.{name}.kvFallback")
            if host.snapshots:
                need("r2Buckets", host.snapshots.bucket, self.r2_buckets, f"durableObjects.{name}.snapshots.bucket")
        problems += repeats(((f"durableObjects.{name}.hostService", host.host_service)
                             for name, host in self.durable_objects.items()),
                            "host services (one durableObjects entry per service: merge them)")
        return problems

    def _check_backups(self) -> list[str]:
        if self.backups is None:
            return []
        key = self.backups.bucket
        bucket = self.r2_buckets.get(key)
        if bucket is None:
            return [f"backups.bucket refers to r2Buckets {key!r}, which is not declared "
                    f"(declared: {sorted(self.r2_buckets) or 'none'})"]
        problems = []
        if not any(rule.delete_after_days for rule in bucket.lifecycle):
            problems.append(f"r2Buckets.{key} holds the backups: give it a lifecycle rule with deleteAfterDays "
                            "(the retention), or old backups are kept and billed forever")
        # Only the backup job writes backups: a Worker bound to the bucket could overwrite or delete them.
        bound = [f"services.{name}.bindings.r2.{binding}" for name, service in self.services.items()
                 for binding, bucket_key in service.bindings.r2.items() if bucket_key == key]
        bound += [f"durableObjects.{name}.snapshots.bucket" for name, host in self.durable_objects.items()
                  if host.snapshots and host.snapshots.bucket == key]
        if bound:
            problems.append(f"r2Buckets.{key} holds the backups and must be bound to no Worker; remove "
                            f"{', '.join(bound)}")
        return problems

    def _check_code_and_adoption(self) -> list[str]:
        from ..adoption import problems_within
        from .services import CodeSource

        problems = problems_within(self)
        for name, service in self.services.items():
            for key, code in service.codes().values():
                if self.is_production and code.source is CodeSource.REFERENCE:
                    problems.append(f"services.{name}.{key}.source: reference bundles ({code.bundle}) are stubs "
                                    "that answer /health only; production runs live code (adopt) or a pinned build "
                                    "(source: build, bundle, sha256, fetch)")
            credentials = service.access_credentials
            if credentials:
                tokens = self.tunnel.access.service_tokens if self.tunnel else []
                if credentials.service_token not in tokens:
                    problems.append(f"services.{name}.accessCredentials.serviceToken: {credentials.service_token!r} "
                                    f"is not a tunnel.access.serviceTokens entry (declared: {tokens or 'none'})")
                clash = {credentials.client_id_binding, credentials.client_secret_binding} & (
                    set(service.vars) | set(service.secrets))
                if clash:
                    problems.append(f"services.{name}.accessCredentials: binding names {sorted(clash)} are already "
                                    "vars or secrets of this service; choose others")
        return problems

    def _check_environment_rules(self) -> list[str]:
        problems = []
        env = self.environment.value
        zone = self.zone.name
        seen: set[str] = set()
        for path, host in self.hostname_keys():
            if host in seen:
                continue
            seen.add(host)
            if not host.endswith("." + zone):
                problems.append(f"{path}: hostname {shown(host)} is outside the zone {zone!r}")
                continue
            first_label = host.split(".", 1)[0]
            if self.is_production and first_label.endswith("-staging"):
                problems.append(f"{path}: production serves the staging hostname {shown(host)}")
            if not self.is_production and not first_label.endswith("-staging"):
                problems.append(f"{path}: staging hostname {shown(host)} must be '<name>-staging.{zone}' so it never "
                                "collides with production")
        if self.is_production:
            for key, value in (("protect", self.data_protection.protect),
                               ("retainOnDelete", self.data_protection.retain_on_delete)):
                if not value:
                    problems.append(f"dataProtection.{key}: must be true in production")
            for name, bucket in self.r2_buckets.items():
                if bucket.public_dev_url:
                    problems.append(f"r2Buckets.{name}.publicDevUrl: must be false in production")
                for i, rule in enumerate(bucket.cors):
                    if "*" in rule.allowed_origins:
                        problems.append(f"r2Buckets.{name}.cors[{i}].allowedOrigins: '*' origin ({rule.id}) is not "
                                        "allowed in production; list the exact origins")
            for name, service in self.services.items():
                for key, value in service.vars.items():
                    if "CORS" in key and any(part.strip() == "*" for part in value.split(",")):
                        problems.append(f"services.{name}.vars.{key}: '*' origin is not allowed in production")
            for name, host in self.durable_objects.items():
                for i, step in enumerate(host.migrations):
                    unacknowledged = sorted(set(step.deleted_classes) - set(host.acknowledge_deleted_classes))
                    if unacknowledged:
                        problems.append(
                            f"durableObjects.{name}.migrations[{i}].deletedClasses: deletes {unacknowledged} (and all "
                            f"their stored data) in production; list them in durableObjects.{name}."
                            "acknowledgeDeletedClasses to accept that")
        elif self.edge_security is not None:
            problems.append(f"edgeSecurity: holds zone-wide singletons owned by the production stack; remove it from "
                            f"the {env} stack (production's rules cover the {env} hostnames)")
        return problems
