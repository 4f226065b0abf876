"""The stack-output contract: what other repos may rely on, typed and versioned.

Worker repos (ChittyConnect, Project Awareness), dashboards and scripts read this program's stack
outputs. `StackOutputs` is the whole contract; the program exports ONE stack output per top-level
field (`contractVersion`, `environment`, `services`, `tunnel`, `tunnelToken`, `accessCredentials`), so only
`tunnelToken` and `accessCredentials` are secret and everything else reads in plain text. `standIns` is
never a stack output: `chittyos-edge outputs --source plan` adds it to list the ids the offline plan made up.

Versioning (`CONTRACT_VERSION`, "<major>.<minor>"), checked by tests/test_outputs_contract.py:
- a field removed, renamed or retyped, an optional field made required or a required field made
  optional, or a new required field: breaking, bump the major version;
- a new optional field: bump the minor version;
- descriptions, titles and defaults: no bump.
The schema of every released version is committed under `schemas/history/` and never edited;
`schemas/stack-outputs.schema.json` is the current one (`chittyos-edge outputs --schema`).
Readers ignore fields they do not know, so a consumer of 1.0 keeps working on 1.1 outputs.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from .config.base import Environment

CONTRACT_VERSION = "1.2"
SCHEMA_ID = "https://chitty.cc/schemas/chittyos-edge/stack-outputs.schema.json"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def parse_version(version: str) -> tuple[int, int]:
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"contract version {version!r} is not '<major>.<minor>'")
    return int(match.group(1)), int(match.group(2))


class ContractModel(BaseModel):
    """camelCase on the wire; unknown fields are ignored so readers survive minor bumps."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")


class D1DatabaseRef(ContractModel):
    id: str = Field(description="Database UUID (wrangler `database_id`).")
    name: str = Field(description="Database name (wrangler `database_name`).")


class DurableObjectRef(ContractModel):
    class_name: str = Field(description="Exported Durable Object class.")
    script_name: str = Field(description="Physical name of the Worker that hosts the class.")


class QueueConsumerRef(ContractModel):
    queue: str = Field(description="Physical name of the consumed queue.")
    max_batch_size: int = Field(description="Messages per batch.")
    max_wait_time_ms: int = Field(description="Longest wait for a full batch, in milliseconds.")
    max_retries: int = Field(description="Deliveries before a message goes to the dead-letter queue.")
    retry_delay: int = Field(description="Seconds before a retried message is redelivered.")
    dead_letter_queue: str | None = Field(None, description="Physical name of the dead-letter queue, if any.")


class ServiceOutputs(ContractModel):
    """One Worker service and everything bound to it, by binding name."""

    script_name: str = Field(description="Physical Worker name, e.g. chittyconnect-production.")
    hostnames: list[str] = Field(description="Hostnames the Worker serves (custom domains, then route hosts).")
    compatibility_date: str = Field(description="Workers compatibility date the script is deployed with.")
    compatibility_flags: list[str] = Field(description="Workers compatibility flags.")
    vars: dict[str, str] = Field(description="Plain-text vars (never secrets).")
    kv_namespaces: dict[str, str] = Field(description="KV binding -> namespace id.")
    r2_buckets: dict[str, str] = Field(description="R2 binding -> bucket name.")
    d1_databases: dict[str, D1DatabaseRef] = Field(description="D1 binding -> database id and name.")
    queues: dict[str, str] = Field(description="Queue producer binding -> queue name.")
    queue_consumers: list[QueueConsumerRef] = Field(description="Queues this Worker consumes.")
    durable_objects: dict[str, DurableObjectRef] = Field(description="Durable Object binding -> class and host script.")
    analytics_engine_datasets: dict[str, str] = Field(description="Analytics Engine binding -> dataset name.")
    ai: str | None = Field(description="Workers AI binding name, or null.")


class TunnelOutputs(ContractModel):
    hostname: str = Field(description="Public hostname of the tunnel (behind Access).")
    access_aud: str = Field(description="Audience tag of the Access application (verify Access JWTs with it).")


class AccessCredentialOutputs(ContractModel):
    """The Access service token a Worker sends to pass Access in front of the tunnel hostname."""

    service_token: str = Field(description="tunnel.access.serviceTokens entry, e.g. chittyconnect-worker.")
    client_id_binding: str = Field(description="The Worker's secret_text binding holding the client id.")
    client_secret_binding: str = Field(description="The Worker's secret_text binding holding the client secret.")
    client_id: str = Field(description="Sent as CF-Access-Client-Id.")
    client_secret: str = Field(description="Sent as CF-Access-Client-Secret.")


class StackOutputs(ContractModel):
    """The stack outputs, one Pulumi stack output per field."""

    model_config = ConfigDict(json_schema_extra={
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
        "x-contract-version": CONTRACT_VERSION})

    contract_version: str = Field(
        pattern=r"^\d+\.\d+$", description="Version of this contract, '<major>.<minor>'.")
    environment: Environment = Field(description="The stack: staging or production.")
    services: dict[str, ServiceOutputs] = Field(description="Worker services by their key in the stack config.")
    tunnel: TunnelOutputs | None = Field(None, description="The 1Password Connect tunnel; absent when the stack has none.")
    tunnel_token: str | None = Field(
        None, description="cloudflared token of the tunnel. Secret: redacted unless the reader asked for secrets.")
    stand_ins: list[str] | None = Field(
        None, description="Never a stack output: in outputs rendered from the offline plan, the paths (e.g. "
                          "'services.chittyconnect.kvNamespaces.API_KEYS') of ids that plan made up because the "
                          "resource does not exist yet (not adopted); they become real at the first `pulumi up`.")
    access_credentials: dict[str, AccessCredentialOutputs] | str | None = Field(
        None, description="Since 1.2. Per service key, the Access service token bound to that Worker "
                          "(services.<key>.accessCredentials). Secret: a redacted string unless the reader asked "
                          "for secrets.")

    @field_validator("contract_version")
    @classmethod
    def _known_major(cls, value: str) -> str:
        major, _ = parse_version(value)
        ours, _ = parse_version(CONTRACT_VERSION)
        if major != ours:
            raise ValueError(f"these outputs follow contract {value}, this chittyos-edge reads {ours}.x; "
                             "use the chittyos-edge release that wrote them")
        return value


SECRET_OUTPUTS = ("tunnelToken", "accessCredentials")


def json_schema() -> dict[str, Any]:
    """The contract as JSON Schema (what `schemas/stack-outputs.schema.json` holds)."""
    return StackOutputs.model_json_schema(by_alias=True)


# ---- building the outputs in the program -------------------------------------------------------

def build_outputs(settings, *, services: Mapping[str, Any], stores: Any, storage: Any,
                  tunnel: Any = None, monitoring: Any = None, load_balancing: Any = None) -> dict[str, Any]:
    """The stack outputs of the contract, one entry per top-level field, values possibly `Output`s.

    Each service's bindings come from the binding list its Worker script is uploaded with
    (`WorkerService.bindings`, which includes what a Durable Object host adds), in one pass: the
    outputs name exactly what the script is bound to. Each service's block is validated against
    `ServiceOutputs` once its ids are known (inside `apply`, which creates no resource), so the
    program cannot export something the contract does not describe.
    """
    import pulumi  # here, not at the top: readers of the contract (the outputs command) never need it

    env = settings.environment
    # d1 bindings carry the database id only; the contract also names the database. Gathered once
    # for every service (per service it grew with services x databases).
    database_names = pulumi.Output.all(*[pulumi.Output.all(db.uuid, db.name)
                                         for db in storage.databases.values()]).apply(dict)
    exported: dict[str, Any] = {
        "contractVersion": CONTRACT_VERSION,
        "environment": env.value,
        "services": pulumi.Output.all(**{
            key: _service_outputs(settings, key, services[key], stores, database_names) for key in settings.services
        }) if settings.services else {},
    }
    if tunnel is not None:
        exported["tunnel"] = pulumi.Output.all(hostname=tunnel.hostname, aud=tunnel.application.aud).apply(
            lambda v: TunnelOutputs(hostname=v["hostname"], access_aud=v["aud"]).model_dump(by_alias=True))
        exported["tunnelToken"] = pulumi.Output.secret(tunnel.token)
        bound = {key: service.access_credentials for key, service in settings.services.items()
                 if service.access_credentials}
        if bound:
            exported["accessCredentials"] = pulumi.Output.secret(pulumi.Output.all(**{
                key: pulumi.Output.all(*tunnel.credentials(creds.service_token)).apply(
                    lambda ids, creds=creds: AccessCredentialOutputs(
                        service_token=creds.service_token, client_id_binding=creds.client_id_binding,
                        client_secret_binding=creds.client_secret_binding, client_id=ids[0],
                        client_secret=ids[1]).model_dump(by_alias=True))
                for key, creds in bound.items()}))
    return exported


# Binding type (Workers upload API) -> (ServiceOutputs field, value from the binding).
_BINDING_FIELDS: dict[str, tuple[str, Any]] = {
    "plain_text": ("vars", lambda b: b["text"]),
    "kv_namespace": ("kvNamespaces", lambda b: b["namespace_id"]),
    "r2_bucket": ("r2Buckets", lambda b: b["bucket_name"]),
    "d1": ("d1Databases", lambda b: b.get("id") or b.get("database_id")),
    "queue": ("queues", lambda b: b["queue_name"]),
    "durable_object_namespace": ("durableObjects", lambda b: b),
    "analytics_engine": ("analyticsEngineDatasets", lambda b: b["dataset"]),
}


def service_bindings(bindings: list[Mapping[str, Any]], script_name: str,
                     database_names: Mapping[str, str]) -> dict[str, Any]:
    """The binding fields of `ServiceOutputs` from a script's resolved binding list (provider input
    shape, `secret_text` left out): secrets are never outputs, any other type needs a field here."""
    fields: dict[str, Any] = {field: {} for field, _ in _BINDING_FIELDS.values()}
    fields["ai"] = None
    for binding in bindings:
        kind, name = binding["type"], binding["name"]
        if kind == "ai":
            fields["ai"] = name
            continue
        if kind not in _BINDING_FIELDS:
            raise ValueError(f"the outputs contract has no field for {kind!r} bindings ({name} of {script_name}); "
                             "add one to ServiceOutputs (and bump CONTRACT_VERSION)")
        field, value_of = _BINDING_FIELDS[kind]
        value = value_of(binding)
        if kind == "d1":
            value = {"id": value, "name": database_names[value]}
        elif kind == "durable_object_namespace":
            value = {"className": value["class_name"], "scriptName": value.get("script_name") or script_name}
        fields[field][name] = value
    return fields


def _service_outputs(settings, key: str, service: Any, stores: Any, database_names: Any):
    import pulumi

    config = settings.services[key]

    def queue_name(logical: str):
        return stores.queues[logical].queue_name

    consumers = [
        pulumi.Output.all(queue=queue_name(c.queue),
                          dlq=queue_name(c.dead_letter_queue) if c.dead_letter_queue else None).apply(
            lambda v, c=c: {"queue": v["queue"], "maxBatchSize": c.batch_size, "maxWaitTimeMs": c.max_wait_time_ms,
                            "maxRetries": c.max_retries, "retryDelay": c.retry_delay,
                            "deadLetterQueue": v["dlq"]})
        for c in config.queue_consumers
    ]
    # Secret values never reach the outputs (and would make the whole `services` output secret).
    bindings = [pulumi.Output.from_input(b) for b in service.bindings if b["type"] != "secret_text"]

    def assemble(v: dict[str, Any]) -> dict[str, Any]:
        try:
            fields = service_bindings(v["bindings"], v["scriptName"], v["databases"])
        except ValueError as error:
            raise pulumi.RunError(str(error)) from None
        raw = {
            "scriptName": v["scriptName"],
            "hostnames": list(service.hostnames),
            "compatibilityDate": config.compatibility_date,
            "compatibilityFlags": list(config.compatibility_flags),
            "queueConsumers": v["consumers"],
            **fields,
        }
        return ServiceOutputs.model_validate(raw).model_dump(by_alias=True)

    return pulumi.Output.all(scriptName=service.script_name, bindings=pulumi.Output.all(*bindings),
                             databases=database_names,
                             consumers=pulumi.Output.all(*consumers)).apply(assemble)
