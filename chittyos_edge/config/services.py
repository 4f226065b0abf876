"""Worker services (ChittyConnect, Project Awareness) and the Durable Object hosts they carry."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from .base import (BindingName, CalendarDate, CloudflareId, ConfigModel, CronExpression, Hostname,
                   ResourceBaseName, hostname_problem)
from .errors import repeats, shown

_ROUTE_RE = re.compile(r"^(\*\.)?[a-z0-9.-]+\.[a-z]{2,63}/\S*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_BUNDLE_RE = r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.m?js$"
# A feature flag of the ChittyConnect implementation guide (ENABLE_DURABLE_OBJECTS, ENABLE_R2_STORAGE, ...):
# a var the application reads as "true" or "false".
FLAG_RE = re.compile(r"^ENABLE_[A-Z0-9_]+$")
FLAG_VALUES = ("true", "false")
# The guide's rollout steps: a canary goes 10 -> 25 -> 50 -> 100 % (100 promotes it to the stable code).
ROLLOUT_STEPS = (10, 25, 50, 100)
# The folder of the reference bundles the repo ships (see workers/README.md): staging only.
REFERENCE_DIR = "workers/"


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


class CodeSource(StrEnum):
    LIVE = "live"
    BUILD = "build"
    REFERENCE = "reference"


class ServiceCode(ConfigModel):
    """Where the Worker's code comes from. Exactly one of three sources:

    - `live`: the code that runs in the account now (the Worker is adopted, `services.<key>.adopt`).
      This program never uploads code to it: it manages the Worker's settings, workers.dev state,
      custom domains, routes, crons, queue consumers and secrets, and publishes the bindings the
      application's own deploy must carry (stack outputs). `reason` says why the live code stays.
    - `build`: a pinned build of the application: `bundle` (a path in the project, usually fetched,
      not committed) and its `sha256`. The offline plan needs only the hash; `pulumi preview/up`
      refuse a missing or different file and print `fetch`, the command that puts it there.
    - `reference`: a reference bundle this repo ships under workers/ (a stub that answers /health):
      staging only, refused in production.
    """

    source: CodeSource = Field(description="live | build | reference (see above).")
    bundle: str | None = Field(None, pattern=_BUNDLE_RE,
                               description="build/reference: the ES-module bundle, relative to the project root.")
    sha256: str | None = Field(None, description="build: sha256 of the bundle (64 lower-case hex), as pinned.")
    fetch: str | None = Field(None, min_length=1,
                              description="build: the command that fetches the pinned bundle to `bundle`.")
    reason: str | None = Field(None, min_length=1, description="live: why this program keeps the live code.")

    @field_validator("bundle")
    @classmethod
    def _bundle(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError("use a path inside the project, without '..', e.g. 'dist/chittyconnect/worker.mjs'")
        return value

    @model_validator(mode="after")
    def _fields_of_source(self) -> "ServiceCode":
        needed = {CodeSource.LIVE: ("reason",), CodeSource.BUILD: ("bundle", "sha256", "fetch"),
                  CodeSource.REFERENCE: ("bundle",)}[self.source]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"code.source {self.source.value} needs {', '.join(missing)}")
        extra = [name for name in ("bundle", "sha256", "fetch", "reason")
                 if name not in needed and getattr(self, name) is not None]
        if extra:
            raise ValueError(f"code.source {self.source.value} takes no {', '.join(extra)}")
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ValueError("code.sha256 must be 64 lower-case hex characters (sha256sum of the bundle)")
        if self.source is CodeSource.REFERENCE and not self.bundle.startswith(REFERENCE_DIR):
            raise ValueError(f"a reference bundle lives under {REFERENCE_DIR}; a real build is source: build "
                             "with its sha256")
        return self


class Canary(ConfigModel):
    """A second build of the Worker taking `percent` of its traffic; `code` (the stable version) keeps the rest.

    The canary is the same Worker with the same bindings, vars and settings: only the code differs.
    `chittyos-edge rollout` moves `percent` along the rollout steps (10, 25, 50; 100 promotes the canary
    to `code` and removes this block), `chittyos-edge rollback` removes it (100 % back to `code`).
    """

    code: ServiceCode = Field(description="The canary's build: build (bundle, sha256, fetch) or reference "
                                          "(staging only); never the stable one.")
    percent: int = Field(description="Share of requests (and of Durable Objects) the canary serves, 0-99. 0 uploads "
                                     "it for requests that name it (the version-override header) only.")

    @field_validator("percent")
    @classmethod
    def _percent(cls, value: int) -> int:
        if value == 100:
            raise ValueError("100 % is no canary: promote it (`chittyos-edge rollout --percent 100` makes it the "
                             "stable code)")
        if not 0 <= value < 100:
            raise ValueError(f"{value} is not a share of traffic; give 0-99 (the rollout steps are "
                             f"{', '.join(map(str, ROLLOUT_STEPS[:-1]))})")
        return value

    @model_validator(mode="after")
    def _uploaded(self) -> "Canary":
        if self.code.source is CodeSource.LIVE:
            raise ValueError("code.source: a canary is a build this program uploads: source build (bundle, sha256, "
                             "fetch) or reference (staging)")
        return self


class AdoptWorker(ConfigModel):
    """A Worker that runs today, imported instead of created (`<account>/<scriptName>`); it keeps its name.

    Adopted resources are retained on delete in every stack: destroying a stack never deletes what
    existed before it.
    """

    script_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
                             description="The live Worker's name, verbatim (no environment is appended).")
    keep_live_settings: bool = Field(
        True, description="Leave the live Worker's observability and logpush as they are (ignored on import and "
                          "after). Set false once the stack's values equal the live ones (see `inventory`), to "
                          "manage them.")
    custom_domains: dict[Hostname, CloudflareId] = Field(
        default_factory=dict, description="Live custom domains of this Worker kept as they are: hostname -> domain id.")
    routes: dict[str, CloudflareId] = Field(
        default_factory=dict, description="Live routes of this Worker kept as they are: pattern -> route id.")


class TakeOver(ConfigModel):
    """Live objects this service takes over from another Worker (or re-creates), each with the reason."""

    queue_consumers: dict[str, str] = Field(
        default_factory=dict, description="queues key -> why this service replaces the live consumer of that queue "
                                          "(remove the live consumer right before `pulumi up`: a queue has one).")
    custom_domains: dict[Hostname, str] = Field(
        default_factory=dict, description="hostname -> why it moves off the live Worker that serves it.")
    routes: dict[str, str] = Field(
        default_factory=dict, description="route pattern -> why it moves off the live Worker that serves it.")

    @model_validator(mode="after")
    def _reasons(self) -> "TakeOver":
        for section in ("queue_consumers", "custom_domains", "routes"):
            empty = [key for key, reason in getattr(self, section).items() if not str(reason).strip()]
            if empty:
                raise ValueError(f"takeOver.{section}: give the reason for {empty}")
        return self


class AccessCredentials(ConfigModel):
    """Bind a tunnel Access service token to this Worker, so its calls to the tunnel hostname pass Access."""

    service_token: str = Field(description="tunnel.access.serviceTokens entry, e.g. chittyconnect-worker.")
    client_id_binding: BindingName = Field("CF_ACCESS_CLIENT_ID", description="secret_text binding of the client id.")
    client_secret_binding: BindingName = Field(
        "CF_ACCESS_CLIENT_SECRET", description="secret_text binding of the client secret.")


class Observability(ConfigModel):
    enabled: bool = True
    head_sampling_rate: float = Field(1.0, ge=0, le=1)
    invocation_logs: bool = True


class WorkerService(ConfigModel):
    script_name: ResourceBaseName = Field(description="Base script name; the environment is appended (unless adopted).")
    code: ServiceCode = Field(description="Where the code comes from: live (adopted), a pinned build, or a reference "
                                          "bundle (staging only). With a canary, this is the stable version.")
    canary: Canary | None = Field(
        None, description="A staged rollout: another build serving `percent` of the traffic (see `chittyos-edge "
                          "rollout` and `rollback`).")
    adopt: AdoptWorker | None = Field(None, description="Import the Worker that runs today instead of creating one.")
    take_over: TakeOver = Field(default_factory=TakeOver)
    access_credentials: AccessCredentials | None = Field(
        None, description="An Access service token of the tunnel, bound as two secret_text bindings.")
    compatibility_date: CalendarDate = Field(description="Workers compatibility date, YYYY-MM-DD (quoted).")
    compatibility_flags: list[str] = Field(default_factory=list)
    vars: dict[BindingName, str] = Field(default_factory=dict, description="Plain-text vars (never secrets).")
    secrets: list[BindingName] = Field(
        default_factory=list,
        description="Secret names; each value comes from the Pulumi secret workerSecrets.<service>.<NAME>.")
    bindings: Bindings = Field(default_factory=Bindings)
    custom_domains: list[Hostname] = Field(default_factory=list, description="Hostnames served by this Worker alone.")
    routes: list[str] = Field(default_factory=list, description="Zone route patterns, e.g. api.chitty.cc/project-awareness/*.")
    route_dns_records: list[Hostname] = Field(
        default_factory=list,
        description="Route hosts that get a proxied placeholder record (AAAA 100::) from this program because "
                    "nothing else serves them. A route needs a proxied record for its host.")
    crons: list[CronExpression] = Field(default_factory=list, description="Cron schedules (UTC), Cloudflare's syntax.")
    cpu_ms: int | None = Field(None, ge=10, le=300000, description="CPU limit per invocation in ms.")
    placement: Placement = Placement.SMART
    observability: Observability = Field(default_factory=Observability)
    logpush: bool = False
    workers_dev: bool = Field(False, description="Serve on the workers.dev subdomain too.")
    workers_dev_reason: str | None = Field(
        None, min_length=1, description="Why the workers.dev URL stays on (required with workersDev: true).")
    queue_consumers: list[QueueConsumer] = Field(default_factory=list)
    health_path: str = Field("/health", description="Path answering {\"status\":\"healthy\"}.")
    smoke: list[SmokeCheck] = Field(
        default_factory=lambda: [SmokeCheck.HEALTH],
        description="Post-deployment tests `chittyos-edge smoke` runs against each hostname of this service.")

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

    @model_validator(mode="after")
    def _flags_are_booleans(self) -> "WorkerService":
        bad = [name for name, value in self.vars.items() if FLAG_RE.match(name) and value not in FLAG_VALUES]
        if bad:
            raise ValueError("\n".join(
                f"vars.{name}: a feature flag is \"true\" or \"false\" (quoted: vars are text), not "
                f"{shown(self.vars[name])}; `chittyos-edge flag` sets it" for name in bad))
        return self

    @model_validator(mode="after")
    def _canary_of_an_uploaded_build(self) -> "WorkerService":
        canary = self.canary
        if canary is None:
            return self
        if self.code.source is CodeSource.LIVE:
            raise ValueError("canary: code.source live uploads no code, so there is no stable version to split "
                             "traffic with; pin the stable build first (code.source: build), or remove canary")
        if canary.code.source is self.code.source and (
                canary.code.sha256 == self.code.sha256 if self.code.source is CodeSource.BUILD
                else canary.code.bundle == self.code.bundle):
            which = "sha256" if self.code.source is CodeSource.BUILD else "bundle"
            raise ValueError(f"canary.code.{which}: the canary is the stable build (code.{which}); a canary runs "
                             "another build: pin the new one here, or remove canary")
        return self


    @model_validator(mode="after")
    def _code_and_adoption(self) -> "WorkerService":
        if self.code.source is CodeSource.LIVE and self.adopt is None:
            raise ValueError("code.source live keeps the code of a Worker that runs today: add adopt.scriptName "
                             "(the live Worker), or pin a build (code.source: build)")
        if self.workers_dev and not self.workers_dev_reason:
            raise ValueError("workersDev: true needs workersDevReason (who still calls the workers.dev URL)")
        route_hosts = {route.split("/", 1)[0] for route in self.routes}
        stray = sorted(set(self.route_dns_records) - route_hosts)
        if stray:
            raise ValueError(f"routeDnsRecords {stray} are not hosts of this service's routes {sorted(route_hosts)}")
        if self.adopt:
            stray = sorted(set(self.adopt.custom_domains) - set(self.custom_domains))
            if stray:
                raise ValueError(f"adopt.customDomains {stray} are not in customDomains")
            stray = sorted(set(self.adopt.routes) - set(self.routes))
            if stray:
                raise ValueError(f"adopt.routes {stray} are not in routes")
        for section, declared in (("customDomains", self.custom_domains), ("routes", self.routes)):
            stray = sorted(set(getattr(self.take_over, "custom_domains" if section == "customDomains" else "routes"))
                           - set(declared))
            if stray:
                raise ValueError(f"takeOver.{section} {stray} are not in {section}")
        consumed = {c.queue for c in self.queue_consumers}
        stray = sorted(set(self.take_over.queue_consumers) - consumed)
        if stray:
            raise ValueError(f"takeOver.queueConsumers {stray} are not queues this service consumes")
        return self

    @property
    def is_live(self) -> bool:
        return self.code.source is CodeSource.LIVE

    def codes(self) -> dict[str, tuple[str, ServiceCode]]:
        """The code of each version by role, with its key under the service: `stable` (`code`) and, during a
        staged rollout, `canary` (`canary.code`)."""
        found = {"stable": ("code", self.code)}
        if self.canary is not None:
            found["canary"] = ("canary.code", self.canary.code)
        return found

    def traffic(self) -> dict[str, int]:
        """Percent of requests per version role, stable first (Cloudflare keeps each Durable Object on its
        version while a deployment lists the versions in the same order and the canary's share grows)."""
        if self.canary is None:
            return {"stable": 100}
        return {"stable": 100 - self.canary.percent, "canary": self.canary.percent}

    def flags(self) -> dict[str, bool]:
        """The feature flags among the vars (`ENABLE_*`), as booleans."""
        return {name: value == "true" for name, value in self.vars.items() if FLAG_RE.match(name)}


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
