"""One Worker service (ChittyConnect, Project Awareness): script, bindings, domains, triggers.

Driven by one `services.<key>` entry:

- `WorkersScript` `<scriptName>-<environment>`: the ES-module bundle at `bundle` (uploaded from
  `contentFile`, part name = the file name as `mainModule`), `contentSha256` = the bundle's hash, so
  an unchanged bundle gives no diff and any byte change gives exactly one update;
  `compatibilityDate`/`Flags`; ONE `bindings` list: `vars` as `plain_text`, `secrets` as
  `secret_text` from the Pulumi secrets `workerSecrets.<key>.<NAME>` (the list travels as a
  secret), and `bindings.kv/r2/d1/queues/analyticsEngine/ai` resolved to this stack's resources
  by logical key (a binding can never point at the other environment's store); plus what a
  `durableObjects` host contributes (namespaces, KV fallback, snapshot bucket, `migrations`).
  `cpuMs` -> `limits.cpuMs`, `placement: smart` -> `placement.mode`, observability with logs on.
- `WorkersCustomDomain` per `customDomains` entry (it creates its DNS record and certificate) and
  `WorkersRoute` per `routes` pattern; `WorkersScriptSubdomain` stating whether `*.workers.dev`
  serves it (`workersDev`, off by default).
- `WorkersCronTrigger`: all schedules of the script (`crons` + a host's cleanup schedule) in the
  one resource Cloudflare allows per script.
- `QueueConsumer` per `queueConsumers` entry (queue id, batch settings, dead-letter queue name).

What options cost: a script that hosts Durable Objects holds their data, so it is
protected/retained by `dataProtection` (in production, renaming `scriptName` - a replacement - is
refused; deleting the script would delete every object). Other scripts are stateless and are
replaced or removed freely. Changing `customDomains` moves traffic at once. A changed
`compatibilityDate` changes runtime behaviour: deploy it to staging first.
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
from chittyos_edge.config.services import Placement
from chittyos_edge.config.services import WorkerService as ServiceConfig
from chittyos_edge.config.stack import DataProtection
from chittyos_edge.config.storage import R2Jurisdiction
from chittyos_edge.project import Project

from .base import Component
from .data_stores import DataStores
from .document_storage import DocumentStorage
from .durable_objects import DurableObjectHost


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def bundle_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class WorkerService(Component):
    """`script`, `script_name` (physical), `hostnames` (custom domains, then route hosts), `bindings`
    (every binding the script is uploaded with, as the provider takes them)."""

    def __init__(self, name: str, *, account_id: str, zone_id: pulumi.Input[str], environment: Environment,
                 service_key: str, service: ServiceConfig, secrets: Mapping[str, pulumi.Output[str]],
                 stores: DataStores, storage: DocumentStorage, durable_objects: Optional[DurableObjectHost],
                 protection: DataProtection, project: Project,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("worker_service", name, opts)
        self.script_name = naming.script_name(service.script_name, environment)
        self.hostnames = list(dict.fromkeys(
            list(service.custom_domains) + [route.split("/", 1)[0] for route in service.routes]))
        bundle = project.path(service.bundle)
        where = f"services.{service_key}"

        bindings = self._bindings(service, secrets, stores, storage, environment, where)
        if durable_objects is not None:
            bindings += durable_objects.bindings
        # The script's final binding list (provider input shape): the stack outputs are built from it.
        self.bindings: list[dict[str, Any]] = bindings
        # The schema comes before the code that reads it.
        schema_first = [storage.migrations[key] for key in dict.fromkeys(service.bindings.d1.values())
                        if key in storage.migrations]
        script_opts = (self.stateful_opts(protection, depends_on=schema_first) if durable_objects is not None
                       else self.child_opts(depends_on=schema_first))

        observability = service.observability
        self.script = cloudflare.WorkersScript(
            self.child_name("script"),
            account_id=account_id,
            script_name=self.script_name,
            content_file=service.bundle,
            content_sha256=bundle_digest(bundle),
            main_module=bundle.name,
            compatibility_date=service.compatibility_date,
            compatibility_flags=list(service.compatibility_flags),
            bindings=bindings,
            migrations=(durable_objects.migrations_input(account_id, self.script_name)
                        if durable_objects is not None else None),
            limits={"cpu_ms": service.cpu_ms} if service.cpu_ms else None,
            placement={"mode": "smart"} if service.placement is Placement.SMART else None,
            observability={
                "enabled": observability.enabled,
                "head_sampling_rate": observability.head_sampling_rate,
                "logs": {"enabled": observability.enabled, "invocation_logs": observability.invocation_logs,
                         "head_sampling_rate": observability.head_sampling_rate},
            },
            logpush=service.logpush,
            opts=script_opts)

        script_name = self.script.script_name
        cloudflare.WorkersScriptSubdomain(
            self.child_name("workers-dev"),
            account_id=account_id, script_name=script_name, enabled=service.workers_dev,
            opts=self.child_opts())
        for hostname in service.custom_domains:
            cloudflare.WorkersCustomDomain(
                self.child_name(f"domain-{_slug(hostname)}"),
                account_id=account_id, zone_id=zone_id, hostname=hostname, service=script_name,
                opts=self.child_opts())
        for pattern in service.routes:
            cloudflare.WorkersRoute(
                self.child_name(f"route-{_slug(pattern)}"),
                zone_id=zone_id, pattern=pattern, script=script_name,
                opts=self.child_opts())

        schedules = list(dict.fromkeys(
            list(service.crons) + (durable_objects.schedules if durable_objects is not None else [])))
        if schedules:
            cloudflare.WorkersCronTrigger(
                self.child_name("crons"),
                account_id=account_id, script_name=script_name,
                schedules=[{"cron": cron} for cron in schedules],
                opts=self.child_opts())

        for consumer in service.queue_consumers:
            queue = stores.queues[consumer.queue]
            dead_letter = stores.queues[consumer.dead_letter_queue] if consumer.dead_letter_queue else None
            cloudflare.QueueConsumer(
                self.child_name(f"consumer-{consumer.queue}"),
                account_id=account_id, queue_id=queue.queue_id, type="worker", script_name=script_name,
                dead_letter_queue=dead_letter.queue_name if dead_letter else None,
                settings={"batch_size": consumer.batch_size, "max_retries": consumer.max_retries,
                          "max_wait_time_ms": consumer.max_wait_time_ms, "retry_delay": consumer.retry_delay},
                opts=self.child_opts())

        self.register_outputs({"scriptName": self.script_name, "hostnames": self.hostnames})

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
