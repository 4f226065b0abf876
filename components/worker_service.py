"""One Worker service (ChittyConnect, Project Awareness): the Worker, its code, bindings, domains, triggers.

Driven by one `services.<key>` entry, with Workers' split API (a Worker, its versions, a deployment):

- `Worker` `<scriptName>-<environment>` (or the live name of `adopt.scriptName`, imported as
  `<account>/<name>`): the script-level settings (observability with logs, logpush, and whether
  `*.workers.dev` serves it, `workersDev`). An adopted Worker keeps its live observability and
  logpush until `adopt.keepLiveSettings: false`.
- The code, by `code.source`:
  - `build` / `reference`: a `WorkerVersion` per role (the ES-module bundle as its one module, with
    `contentSha256` = the pinned hash, so an unchanged pin gives no diff; compatibility date and
    flags, `limits.cpuMs`, `placement`, the bindings, and the Durable Object migrations computed
    against the live tag) and a `WorkersDeployment` splitting the traffic by percentage: `stable`
    (`code`) takes 100 %, or 100 - n % while a `canary` (`canary.code`, the same bindings and
    settings) takes n % (`canary.percent`). Migrations ride only on a 100 % deployment: with a
    canary, a pending migration step stops the deploy (see `durable_objects`).
  - `live`: no code is uploaded: the code that runs stays. The secrets (and the Access
    credentials) are set with the secrets API (`WorkerSecrets`); the other bindings are the ones
    the application's own deploy must carry (published in the stack outputs).
- `bindings`: the Worker's final binding list in the provider's input shape: `vars` as
  `plain_text`, `secrets` as `secret_text` from `workerSecrets.<key>.<NAME>`, the Access
  credentials as `secret_text`, `bindings.kv/r2/d1/queues/analyticsEngine/ai` resolved to this
  stack's resources by logical key, plus what a `durableObjects` host contributes.
- `WorkersCustomDomain` per `customDomains` entry (it creates its DNS record and certificate;
  an entry in `adopt.customDomains` is imported), `WorkersRoute` per `routes` pattern with a
  proxied placeholder `DnsRecord` (AAAA `100::`) for each host in `routeDnsRecords`,
  `WorkersCronTrigger` with every schedule of the script, and a `QueueConsumer` per
  `queueConsumers` entry. These attach traffic, so they wait for the code to be deployed.

What options cost: a Worker that hosts Durable Objects holds their data, so it is protected/retained
by `dataProtection` (deleting it deletes every object); an adopted Worker is retained in every
stack. Changing `customDomains` moves traffic at once. A changed `compatibilityDate` changes runtime
behaviour: deploy it to staging first.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.services import CodeSource, Placement, ServiceCode
from chittyos_edge.config.services import WorkerService as ServiceConfig
from chittyos_edge.config.stack import DataProtection
from chittyos_edge.config.storage import R2Jurisdiction
from chittyos_edge.project import Project

from .base import Component
from .data_stores import DataStores
from .document_storage import DocumentStorage
from .durable_objects import DurableObjectHost
from .worker_secrets import WorkerSecrets

MODULE_CONTENT_TYPE = "application/javascript+module"
# The placeholder target of a proxied record that exists only so a Worker route's host resolves
# (Cloudflare's documented pattern for originless routes).
ROUTE_PLACEHOLDER = {"type": "AAAA", "content": "100::"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def bundle_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_digest(code: ServiceCode, project: Project) -> str:
    """The bundle's sha256: pinned in the stack file for a build, read from the file for a reference bundle."""
    return code.sha256 if code.source is CodeSource.BUILD else bundle_digest(project.path(code.bundle))


class WorkerService(Component):
    """`worker`, `script_name` (physical), `hostnames`, `bindings` (final list), `versions`, `deployment`."""

    def __init__(self, name: str, *, account_id: str, zone_id: pulumi.Input[str], environment: Environment,
                 service_key: str, service: ServiceConfig, secrets: Mapping[str, pulumi.Output[str]],
                 stores: DataStores, storage: DocumentStorage, durable_objects: Optional[DurableObjectHost],
                 protection: DataProtection, project: Project,
                 access_credentials: Optional[tuple[pulumi.Output[str], pulumi.Output[str]]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("worker_service", name, opts)
        self.script_name = naming.physical_script_name(service, environment)
        self.hostnames = list(dict.fromkeys(
            list(service.custom_domains) + [route.split("/", 1)[0] for route in service.routes]))
        where = f"services.{service_key}"
        self.code_source = service.code.source

        self.bindings: list[dict[str, Any]] = self._bindings(service, secrets, stores, storage, environment, where)
        if access_credentials is not None:
            client_id, client_secret = access_credentials
            creds = service.access_credentials
            self.bindings += [
                {"type": "secret_text", "name": creds.client_id_binding, "text": pulumi.Output.secret(client_id)},
                {"type": "secret_text", "name": creds.client_secret_binding, "text": pulumi.Output.secret(client_secret)},
            ]
        if durable_objects is not None:
            self.bindings += durable_objects.bindings

        adopt = service.adopt
        # A Durable Object host holds data; an adopted Worker existed before this stack.
        stateful = durable_objects is not None or adopt is not None
        ignored = ["observability", "logpush"] if adopt and adopt.keep_live_settings else None
        import_id = f"{account_id}/{adopt.script_name}" if adopt else None
        worker_opts = (self.stateful_opts(protection, import_id=import_id, ignore_changes=ignored) if stateful
                       else self.child_opts())
        observability = service.observability
        self.worker = cloudflare.Worker(
            self.child_name("worker"),
            account_id=account_id,
            name=self.script_name,
            logpush=service.logpush,
            observability={
                "enabled": observability.enabled,
                "head_sampling_rate": observability.head_sampling_rate,
                "logs": {"enabled": observability.enabled, "invocation_logs": observability.invocation_logs,
                         "head_sampling_rate": observability.head_sampling_rate},
            },
            subdomain={"enabled": service.workers_dev},
            opts=worker_opts)

        self.versions: dict[str, cloudflare.WorkerVersion] = {}
        self.deployment: Optional[cloudflare.WorkersDeployment] = None
        self.secrets: Optional[WorkerSecrets] = None
        if service.is_live:
            secret_bindings = {b["name"]: b["text"] for b in self.bindings if b["type"] == "secret_text"}
            if secret_bindings:
                self.secrets = WorkerSecrets(
                    self.child_name("secrets"), account_id=account_id, script_name=self.script_name,
                    secrets=secret_bindings,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.worker], retain_on_delete=True))
            code_ready: list[pulumi.Resource] = [self.worker] + ([self.secrets] if self.secrets else [])
        else:
            # The schema comes before the code that reads it.
            schema_first = [storage.migrations[key] for key in dict.fromkeys(service.bindings.d1.values())
                            if key in storage.migrations]
            migrations = (durable_objects.migrations_input(
                account_id, self.script_name, split_by=f"{where}.canary" if service.canary else None)
                if durable_objects is not None else None)
            for role, (_, code) in service.codes().items():
                self.versions[role] = self._code_version(
                    role, code, account_id, service, project, migrations, depends_on=[self.worker, *schema_first])
            self.deployment = self._traffic(account_id, service.traffic())
            code_ready = [self.deployment]

        self._attachments(account_id, zone_id, service, stores, durable_objects, code_ready)
        self.register_outputs({"scriptName": self.script_name, "hostnames": self.hostnames,
                               "code": service.code.source.value})

    # ---- code ------------------------------------------------------------------------------

    def _code_version(self, role: str, code: ServiceCode, account_id: str, service: ServiceConfig, project: Project,
                      migrations: Optional[pulumi.Output], depends_on: list) -> cloudflare.WorkerVersion:
        """One immutable version of the code (a new bundle hash or binding is a new version)."""
        module = Path(code.bundle).name
        return cloudflare.WorkerVersion(
            self.child_name(f"version-{role}"),
            account_id=account_id,
            # The name, not the Worker's id: known at preview, and the API takes either.
            worker_id=self.script_name,
            main_module=module,
            modules=[{"name": module, "content_type": MODULE_CONTENT_TYPE, "content_file": code.bundle,
                      "content_sha256": code_digest(code, project)}],
            compatibility_date=service.compatibility_date,
            compatibility_flags=list(service.compatibility_flags),
            bindings=self.bindings,
            migrations=migrations,
            limits={"cpu_ms": service.cpu_ms} if service.cpu_ms else None,
            placement={"mode": "smart"} if service.placement is Placement.SMART else None,
            opts=self.child_opts(depends_on=depends_on))

    def _traffic(self, account_id: str, percentages: Mapping[str, int]) -> cloudflare.WorkersDeployment:
        """Traffic split over the versions by role; percentages total 100."""
        return cloudflare.WorkersDeployment(
            self.child_name("deployment"),
            account_id=account_id,
            script_name=self.script_name,
            strategy="percentage",
            versions=[{"version_id": self.versions[role].id, "percentage": percent}
                      for role, percent in percentages.items()],
            opts=self.child_opts(depends_on=[self.worker]))

    # ---- traffic and triggers --------------------------------------------------------------

    def _attachments(self, account_id: str, zone_id: pulumi.Input[str], service: ServiceConfig, stores: DataStores,
                     durable_objects: Optional[DurableObjectHost], code_ready: list) -> None:
        script_name = self.script_name
        adopted_domains = service.adopt.custom_domains if service.adopt else {}
        for hostname in service.custom_domains:
            domain_id = adopted_domains.get(hostname)
            cloudflare.WorkersCustomDomain(
                self.child_name(f"domain-{_slug(hostname)}"),
                account_id=account_id, zone_id=zone_id, hostname=hostname, service=script_name,
                opts=self.child_opts(depends_on=code_ready, import_=f"{account_id}/{domain_id}" if domain_id else None,
                                     retain_on_delete=True if domain_id else None))
        for hostname in service.route_dns_records:
            cloudflare.DnsRecord(
                self.child_name(f"route-dns-{_slug(hostname)}"),
                zone_id=zone_id, name=hostname, proxied=True, ttl=1, **ROUTE_PLACEHOLDER,
                comment=f"chittyos-edge: placeholder so the Worker routes of {script_name} on {hostname} resolve",
                opts=self.child_opts())
        for pattern in service.routes:
            cloudflare.WorkersRoute(
                self.child_name(f"route-{_slug(pattern)}"),
                zone_id=zone_id, pattern=pattern, script=script_name,
                opts=self.child_opts(depends_on=code_ready))

        # A Durable Object host's cleanup schedule calls the `scheduled` handler of code this program
        # uploads. Live code is the application's own: it may have no such handler, and its Durable
        # Object code ships with its own deploy, so only the crons the stack states are set on it.
        hosted = (durable_objects.schedules
                  if durable_objects is not None and service.code.source is not CodeSource.LIVE else [])
        schedules = list(dict.fromkeys(list(service.crons) + hosted))
        if schedules:
            cloudflare.WorkersCronTrigger(
                self.child_name("crons"),
                account_id=account_id, script_name=script_name,
                schedules=[{"cron": cron} for cron in schedules],
                opts=self.child_opts(depends_on=code_ready))

        for consumer in service.queue_consumers:
            queue = stores.queues[consumer.queue]
            dead_letter = stores.queues[consumer.dead_letter_queue] if consumer.dead_letter_queue else None
            cloudflare.QueueConsumer(
                self.child_name(f"consumer-{consumer.queue}"),
                account_id=account_id, queue_id=queue.queue_id, type="worker", script_name=script_name,
                dead_letter_queue=dead_letter.queue_name if dead_letter else None,
                settings={"batch_size": consumer.batch_size, "max_retries": consumer.max_retries,
                          "max_wait_time_ms": consumer.max_wait_time_ms, "retry_delay": consumer.retry_delay},
                opts=self.child_opts(depends_on=code_ready))

    # ---- bindings --------------------------------------------------------------------------

    @staticmethod
    def _bindings(service: ServiceConfig, secrets: Mapping[str, pulumi.Output[str]], stores: DataStores,
                  storage: DocumentStorage, environment: Environment, where: str) -> list[dict[str, Any]]:
        declared = service.bindings
        bindings: list[dict[str, Any]] = [
            {"type": "plain_text", "name": key, "text": value} for key, value in service.vars.items()]
        for secret_name in service.secrets:
            if secret_name not in secrets:
                raise pulumi.RunError(f"{where}.secrets lists {secret_name} but no secret value was loaded; "
                                      f"set workerSecrets.<service>.{secret_name} with `pulumi config set --secret`")
            bindings.append({"type": "secret_text", "name": secret_name,
                             "text": pulumi.Output.secret(secrets[secret_name])})
        for binding, key in declared.kv.items():
            bindings.append({"type": "kv_namespace", "name": binding, "namespace_id": stores.kv_namespaces[key].id})
        for binding, key in declared.r2.items():
            item: dict[str, Any] = {"type": "r2_bucket", "name": binding, "bucket_name": storage.buckets[key].name}
            jurisdiction = storage.jurisdictions.get(key, R2Jurisdiction.DEFAULT)
            if jurisdiction is not R2Jurisdiction.DEFAULT:
                item["jurisdiction"] = jurisdiction.value
            bindings.append(item)
        for binding, key in declared.d1.items():
            # `id` is the field the Workers upload API takes for d1 bindings (wrangler sends
            # {"type": "d1", "id": database_id}); 6.23.1's `database_id` alias is newer.
            bindings.append({"type": "d1", "name": binding, "id": storage.databases[key].uuid})
        for binding, key in declared.queues.items():
            bindings.append({"type": "queue", "name": binding, "queue_name": stores.queues[key].queue_name})
        for binding, base in declared.analytics_engine.items():
            bindings.append({"type": "analytics_engine", "name": binding,
                             "dataset": naming.dataset_name(base, environment)})
        if declared.ai:
            bindings.append({"type": "ai", "name": declared.ai})
        return bindings
