"""Worker services (ChittyConnect, Project Awareness) and the Durable Object hosts they carry."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from .base import (BindingName, CalendarDate, ConfigModel, CronExpression, Hostname, ResourceBaseName,
                   hostname_problem)
from .errors import repeats, shown

_ROUTE_RE = re.compile(r"^(\*\.)?[a-z0-9.-]+\.[a-z]{2,63}/\S*$")


class Placement(StrEnum):
    SMART = "smart"
    OFF = "off"


class Bindings(ConfigModel):
    """Bindings by binding name. Values are logical names of resources declared in the same stack."""

    kv: dict[BindingName, str] = Field(default_factory=dict, description="KV binding -> kvNamespaces key.")
    r2: dict[BindingName, str] = Field(default_factory=dict, description="R2 binding -> r2Buckets key.")
    d1: dict[BindingName, str] = Field(default_factory=dict, description="D1 binding -> d1Databases key.")
    queues: dict[BindingName, str] = Field(default_factory=dict, description="Queue producer binding -> queues key.")
    analytics_engine: dict[BindingName, str] = Field(
        default_factory=dict, description="Analytics Engine binding -> dataset base name (environment appended).")
    ai: BindingName | None = Field(None, description="Workers AI binding name, e.g. AI.")


class SmokeCheck(StrEnum):
    """The post-deployment tests of the Project Awareness Cloudflare optimization report."""

    HEALTH = "health"                              # GET <healthPath> -> 200 {"status":"healthy"}
    INFO = "info"                                  # GET /api/info -> 200, keys name, version, endpoints
    SUGGESTIONS = "suggestions"                    # GET /api/projects/suggestions -> 200 within 200 ms
    SESSION_REGISTRATION = "session-registration"  # POST /api/sessions/register -> 200
    WEBSOCKET = "websocket"                        # /ws upgrades to a WebSocket
    SYNC = "sync"                                  # POST /api/projects/sync -> 200


class QueueConsumer(ConfigModel):
    queue: str = Field(description="queues key this service consumes.")
    batch_size: int = Field(10, ge=1, le=100)
    max_retries: int = Field(3, ge=0, le=100)
    max_wait_time_ms: int = Field(5000, ge=0, le=60000)
    retry_delay: int = Field(0, ge=0, le=43200, description="Seconds before a retried message is redelivered.")
    dead_letter_queue: str | None = Field(None, description="queues key that receives messages after maxRetries.")


class Observability(ConfigModel):
    enabled: bool = True
    head_sampling_rate: float = Field(1.0, ge=0, le=1)
    invocation_logs: bool = True


class WorkerService(ConfigModel):
    script_name: ResourceBaseName = Field(description="Base script name; the environment is appended.")
    bundle: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.m?js$",
        description="Path of the built ES-module bundle (.mjs/.js), relative to the project root, e.g. "
                    "workers/chittyconnect/worker.mjs. The repo ships a reference bundle per service.")
    compatibility_date: CalendarDate = Field(description="Workers compatibility date, YYYY-MM-DD (quoted).")
    compatibility_flags: list[str] = Field(default_factory=list)
    vars: dict[BindingName, str] = Field(default_factory=dict, description="Plain-text vars (never secrets).")
    secrets: list[BindingName] = Field(
        default_factory=list,
        description="Secret names; each value comes from the Pulumi secret workerSecrets.<service>.<NAME>.")
    bindings: Bindings = Field(default_factory=Bindings)
    custom_domains: list[Hostname] = Field(default_factory=list, description="Hostnames served by this Worker alone.")
    routes: list[str] = Field(default_factory=list, description="Zone route patterns, e.g. api.chitty.cc/project-awareness/*.")
    crons: list[CronExpression] = Field(default_factory=list, description="Cron schedules (UTC), Cloudflare's syntax.")
    cpu_ms: int | None = Field(None, ge=10, le=300000, description="CPU limit per invocation in ms.")
    placement: Placement = Placement.SMART
    observability: Observability = Field(default_factory=Observability)
    logpush: bool = False
    workers_dev: bool = Field(False, description="Serve on the workers.dev subdomain too.")
    queue_consumers: list[QueueConsumer] = Field(default_factory=list)
    health_path: str = Field("/health", description="Path answering {\"status\":\"healthy\"}.")
    smoke: list[SmokeCheck] = Field(
        default_factory=lambda: [SmokeCheck.HEALTH],
        description="Post-deployment tests `chittyos-edge smoke` runs against each hostname of this service.")

    @field_validator("bundle")
    @classmethod
    def _bundle(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("use a path inside the project, without '..', e.g. 'workers/chittyconnect/worker.mjs'")
        return value

    @field_validator("routes")
    @classmethod
    def _routes(cls, values: list[str]) -> list[str]:
        problems = []
        for i, value in enumerate(values):
            host = value.split("/", 1)[0].removeprefix("*.")
            if not _ROUTE_RE.match(value):
                problems.append(f"[{i}]: {shown(value)} is not a route pattern: '<hostname>/<path>', "
                                "e.g. 'api.chitty.cc/x/*'")
            elif hostname_problem(host):
                problems.append(f"[{i}]: the hostname of {shown(value)} {hostname_problem(host)}")
        if problems:
            raise ValueError("\n".join(problems))
        return values

    @model_validator(mode="after")
    def _no_secret_in_vars(self) -> "WorkerService":
        overlap = set(self.vars) & set(self.secrets)
        if overlap:
            raise ValueError(f"{sorted(overlap)} are both vars and secrets; keep secrets out of vars")
        return self


class MigrationStep(ConfigModel):
    """One Durable Object migration, as wrangler's [[migrations]]. Steps are append-only."""

    tag: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    new_sqlite_classes: list[str] = Field(default_factory=list)
    new_classes: list[str] = Field(default_factory=list, description="Legacy KV-backed classes.")
    renamed_classes: dict[str, str] = Field(default_factory=dict, description="old class name -> new class name.")
    deleted_classes: list[str] = Field(default_factory=list, description="Deleting a class deletes its stored data.")


class SnapshotBucket(ConfigModel):
    bucket: str = Field(description="r2Buckets key that receives the snapshots (lifecycle set there).")
    binding: BindingName = Field(
        "DO_SNAPSHOTS", description="R2 binding name under which the host Worker writes the snapshots.")


class DurableObjectHost(ConfigModel):
    """Durable Object classes hosted by one Worker service, with their migration history."""

    host_service: str = Field(description="services key of the Worker that exports the classes.")
    classes: dict[BindingName, str] = Field(min_length=1, description="Binding name -> exported class name.")
    migrations: list[MigrationStep] = Field(min_length=1)
    acknowledge_deleted_classes: list[str] = Field(
        default_factory=list,
        description="Classes whose deletion (and data loss) is accepted. Required in production for every deleted class.")
    kv_fallback: str | None = Field(None, description="kvNamespaces key used when the object is unavailable.")
    kv_fallback_binding: BindingName = Field(
        "DO_KV_FALLBACK", description="KV binding name of the fallback namespace in the host Worker.")
    snapshots: SnapshotBucket | None = None
    cleanup_schedule: CronExpression | None = Field(
        None, description="Cron schedule of the cleanup run, added to the host's crons.")

    @model_validator(mode="after")
    def _history(self) -> "DurableObjectHost":
        repeated = repeats(((f"migrations[{i}].tag", step.tag) for i, step in enumerate(self.migrations)),
                           "migration tags")
        if repeated:
            raise ValueError("\n".join(repeated))
        live: set[str] = set()
        for step in self.migrations:
            for cls in step.new_sqlite_classes + step.new_classes:
                if cls in live:
                    raise ValueError(f"migration {step.tag!r} creates {cls!r}, which already exists")
                live.add(cls)
            for old, new in step.renamed_classes.items():
                if old not in live:
                    raise ValueError(f"migration {step.tag!r} renames {old!r}, which does not exist at that tag")
                live.discard(old)
                live.add(new)
            for cls in step.deleted_classes:
                if cls not in live:
                    raise ValueError(f"migration {step.tag!r} deletes {cls!r}, which does not exist at that tag")
                live.discard(cls)
        missing = sorted(set(self.classes.values()) - live)
        if missing:
            raise ValueError(f"classes {missing} are bound but no migration creates them; add a step with newSqliteClasses")
        return self

    def deleted_classes(self) -> list[str]:
        return [cls for step in self.migrations for cls in step.deleted_classes]
