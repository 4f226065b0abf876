"""The inventory of what already runs, per stack: `inventory/<stack>.yaml`, and its schema.

Each entry says where it comes from: `source: documents` (recorded from the project's documents,
e.g. the ChittyConnect status report) or `source: account` (read from the Cloudflare account by
`chittyos-edge inventory --stack S`). Unknown facts are `null`, never guessed: a documented Worker
whose queue consumers nobody recorded has `queueConsumers: null`.

Who reads it: the config checks (a route's host or a load-balancer origin must be served by the
stack or listed here; staging adopts nothing production owns) and the gate's collision rule (a
plan may not create what runs here without adopting it).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from ..config.base import CloudflareId, ConfigModel, Environment
from ..config.errors import ConfigError, explain

FORMAT_VERSION = 1
DIRECTORY = "inventory"


class Source(StrEnum):
    DOCUMENTS = "documents"
    ACCOUNT = "account"


class Entry(ConfigModel):
    source: Source = Field(description="documents (recorded from a document) or account (read by `inventory`).")
    note: str | None = Field(None, description="Where a documented entry comes from, or what is unknown.")


class LiveCustomDomain(ConfigModel):
    hostname: str
    id: str | None = Field(None, description="The custom domain's id (import id `<account>/<id>`); null: unknown.")


class LiveRoute(ConfigModel):
    pattern: str
    id: str | None = Field(None, description="The route's id (import id `<zone>/<id>`); null: unknown.")


class LiveConsumer(ConfigModel):
    queue: str = Field(description="Name of the consumed queue.")
    id: str | None = None


class LiveWorker(Entry):
    name: str = Field(description="The Worker (script) name.")
    tag: str | None = Field(None, description="The Worker's id.")
    workers_dev: bool | None = Field(None, description="Whether <name>.<subdomain>.workers.dev serves it; null: unknown.")
    url: str | None = Field(None, description="Its workers.dev URL, when recorded.")
    custom_domains: list[LiveCustomDomain] | None = Field(default_factory=list)
    routes: list[LiveRoute] | None = Field(default_factory=list)
    queue_consumers: list[LiveConsumer] | None = Field(
        default_factory=list, description="Queues this Worker consumes; null: not recorded.")
    logpush: bool | None = None
    observability: bool | None = Field(None, description="Whether Workers observability (logs) is on.")


class LiveKvNamespace(Entry):
    id: CloudflareId
    title: str | None = Field(None, description="Its title; null: not recorded.")


class LiveD1Database(Entry):
    id: str = Field(description="The database uuid.")
    name: str
    tables: list[str] | None = Field(None, description="Tables recorded in documents (a refresh does not read them).")


class LiveQueue(Entry):
    id: CloudflareId
    name: str


class LiveBucket(Entry):
    name: str
    jurisdiction: str = "default"


class LiveTunnel(Entry):
    id: str
    name: str


class LiveDnsRecord(Entry):
    name: str = Field(description="Fully qualified name, e.g. api.chitty.cc.")
    type: str | None = None
    proxied: bool | None = Field(None, description="Whether Cloudflare proxies it (a Worker route needs that).")
    id: str | None = None


class Inventory(ConfigModel):
    """What runs today, as far as this stack is concerned."""

    format_version: Literal[1] = Field(description="1; bumped on an incompatible change of this file.")
    stack: Environment
    account: CloudflareId
    zone: str
    refreshed_at: str | None = Field(None, description="When `chittyos-edge inventory` last read the account "
                                                       "(UTC, ISO 8601); null: recorded from documents only.")
    workers: list[LiveWorker] = Field(default_factory=list)
    kv_namespaces: list[LiveKvNamespace] = Field(default_factory=list)
    d1_databases: list[LiveD1Database] = Field(default_factory=list)
    queues: list[LiveQueue] = Field(default_factory=list)
    r2_buckets: list[LiveBucket] = Field(default_factory=list)
    tunnels: list[LiveTunnel] = Field(default_factory=list)
    dns_records: list[LiveDnsRecord] = Field(default_factory=list)

    # ---- lookups -------------------------------------------------------------------------
    def worker(self, name: str) -> LiveWorker | None:
        return next((w for w in self.workers if w.name == name), None)

    def objects(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(kind, id) -> (description, live name) of every adoptable object; kinds as in
        `chittyos_edge.adoption` (a Worker's and a bucket's id is its name; a KV title may be unknown)."""
        found: dict[tuple[str, str], tuple[str, str | None]] = {}
        for w in self.workers:
            found[("worker", w.name)] = (f"Worker {w.name}", w.name)
        for kv in self.kv_namespaces:
            found[("kv", kv.id)] = (f"KV namespace {kv.title or kv.id}", kv.title)
        for db in self.d1_databases:
            found[("d1", db.id)] = (f"D1 database {db.name}", db.name)
        for q in self.queues:
            found[("queue", q.id)] = (f"queue {q.name}", q.name)
        for b in self.r2_buckets:
            found[("r2", b.name)] = (f"R2 bucket {b.name}", b.name)
        for t in self.tunnels:
            found[("tunnel", t.id)] = (f"tunnel {t.name}", t.name)
        return found

    def proxied_hostnames(self) -> dict[str, str]:
        """Hostnames that a live object serves through Cloudflare -> what serves them."""
        served: dict[str, str] = {}
        for record in self.dns_records:
            if record.proxied:
                served.setdefault(record.name, f"proxied DNS record {record.name} ({record.type or 'type unknown'})")
        for w in self.workers:
            for domain in w.custom_domains or []:
                served.setdefault(domain.hostname, f"custom domain of Worker {w.name}")
        return served


def path_for(stack: str, root: Path) -> Path:
    return root / DIRECTORY / f"{stack}.yaml"


def parse(document: Any, source: str) -> Inventory:
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: not an inventory (expected a mapping with formatVersion, stack, account, ...)"])
    try:
        return Inventory.model_validate(document)
    except ValidationError as error:
        raise ConfigError(explain(error, Inventory, "", source)) from None


def load(stack: str, root: Path) -> Inventory | None:
    """The stack's inventory, or None when the project keeps none for it."""
    path = path_for(stack, root)
    if not path.is_file():
        return None
    source = f"{DIRECTORY}/{path.name}"
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: not valid YAML: {str(error).splitlines()[0]}"]) from None
    inventory = parse(document, source)
    if inventory.stack.value != stack:
        raise ConfigError([f"{source}: stack is {inventory.stack.value!r}, but the file is the {stack!r} inventory"])
    return inventory


HEADER = """\
# What already runs in the Cloudflare account, as far as the {stack} stack is concerned.
# Written by `chittyos-edge inventory --stack {stack}` (read-only API token); see README, "Inventory".
# source: documents = recorded from the project's documents; source: account = read from the account.
"""


def dump(inventory: Inventory) -> str:
    data = inventory.model_dump(mode="json", by_alias=True)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    return HEADER.format(stack=inventory.stack.value) + body


def json_schema() -> dict[str, Any]:
    schema = Inventory.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chittyos-edge inventory"
    return schema
