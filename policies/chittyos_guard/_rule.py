"""What every rule of the pack carries, and the plumbing shared by the policy modules.

A rule is a CrossGuard policy plus the metadata the readiness checklist needs: a stable id
(`CF-TLS-001`), a severity, remediation steps and the item of the production readiness checklist
it enforces (`checklist.py`), and the stack-file key its fix changes (`key`). The id, the key and the
checklist item travel in the policy's `tags` (`CF-TLS-001`, `key:edgeSecurity.tls.minTlsVersion`) and
`framework`, so any client of the Analyzer protocol (the Pulumi CLI, `chittyos-edge gate`) can read them
from `GetAnalyzerInfo`; the gate points each finding at that key's line of the stack file.

Unknown values: `pulumi_policy` turns a read of a value that is unknown during preview into an
advisory "can't run policy during preview" and moves on. Here such a read becomes a finding of
the rule itself, reported at the rule's enforcement level (mandatory in production), so an
unknown value can never let a resource through unchecked.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, TypeVar

from pulumi_policy import (
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

CHECKLIST = "ChittyOS Project Awareness production readiness checklist"
CHECKLIST_VERSION = "1.0.0"
CHECKLIST_SOURCE = "ChittyOS Project Awareness - Production Readiness Checklist (August 30, 2025)"
UNKNOWN_PREFIX = "[unknown at preview]"
UNKNOWN_IN_PLAN = "[unknown]"  # how a plan writes a value known only after `pulumi up`
ANY_CLAUSE = "*"  # in `waivable`: the stack may name any clause (a Worker, a class)
KEY_TAG = "key:"  # a policy's tag naming a stack-file key its fix changes
ENTRY = "<entry>"  # in a key: the config entry the finding's resource comes from (`r2Buckets.<entry>.lifecycle`)

# ---- type tokens (the v6 names; see /work/shared/reference/cloudflare-v6.md) ----------------
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
ZONE_DNSSEC = "cloudflare:index/zoneDnssec:ZoneDnssec"
RULESET = "cloudflare:index/ruleset:Ruleset"
WORKERS_SCRIPT = "cloudflare:index/workersScript:WorkersScript"
WORKER = "cloudflare:index/worker:Worker"
WORKER_VERSION = "cloudflare:index/workerVersion:WorkerVersion"
# Resources that carry a Worker's code and bindings: the one-shot script, or a version of the split API.
CODE_TYPES = (WORKERS_SCRIPT, WORKER_VERSION)
WORKERS_ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
WORKERS_CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
KV_NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
R2_BUCKET = "cloudflare:index/r2Bucket:R2Bucket"
R2_LIFECYCLE = "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle"
R2_CORS = "cloudflare:index/r2BucketCors:R2BucketCors"
R2_MANAGED_DOMAIN = "cloudflare:index/r2ManagedDomain:R2ManagedDomain"
R2_CUSTOM_DOMAIN = "cloudflare:index/r2CustomDomain:R2CustomDomain"
D1_DATABASE = "cloudflare:index/d1Database:D1Database"
QUEUE = "cloudflare:index/queue:Queue"
QUEUE_CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
TUNNEL = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
ACCESS_APPLICATION = "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
HEALTHCHECK = "cloudflare:index/healthcheck:Healthcheck"
NOTIFICATION_POLICY = "cloudflare:index/notificationPolicy:NotificationPolicy"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
LOAD_BALANCER_POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER_MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
WORKER = "cloudflare:index/worker:Worker"
WORKER_VERSION = "cloudflare:index/workerVersion:WorkerVersion"
# Resources that carry a Worker's code and bindings: the one-shot script, or a version of the split API.
CODE_TYPES = (WORKERS_SCRIPT, WORKER_VERSION)
WORKERS_DEPLOYMENT = "cloudflare:index/workersDeployment:WorkersDeployment"
WORKERS_SUBDOMAIN = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
UNIVERSAL_SSL = "cloudflare:index/universalSslSetting:UniversalSslSetting"
BOT_MANAGEMENT = "cloudflare:index/botManagement:BotManagement"
ACCESS_POLICY = "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy"
ACCESS_SERVICE_TOKEN = "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken"
NOTIFICATION_WEBHOOKS = "cloudflare:index/notificationPolicyWebhooks:NotificationPolicyWebhooks"

# Resources that hold data: deleting or replacing one loses it.
STATEFUL_TYPES = (KV_NAMESPACE, R2_BUCKET, D1_DATABASE, QUEUE)
SCRIPT_TYPES = (WORKERS_SCRIPT, WORKER)

ENVIRONMENTS = ("staging", "production")
# The words that mark a name as one environment's (`-staging`, `_prod`, `staging.`).
ENVIRONMENT_MARKERS = {"staging": ("staging", "stage", "stg"), "production": ("production", "prod", "prd")}


@dataclass(frozen=True)
class Rule:
    """One policy of the pack with its checklist metadata.

    `title` and `remediation` default to the check's docstring: its first line, then the rest. A
    rule may let a stack waive named clauses (`waivable`) in its policy config, with a reason; a
    waived clause is skipped by the check and shown as `waived` by `chittyos-edge readiness`.

    `key` is the stack-file key (namespace stripped) the rule's fix changes: a path such as
    `dataProtection.protect`, or one under the finding's config entry, `r2Buckets.<entry>.lifecycle`
    (`<entry>` alone: the entry itself). A tuple lists alternatives, the first that fits the finding's
    resource first (a Worker's `services.<entry>.vars`, else the resource's own entry).
    """

    id: str
    name: str
    severity: Severity
    checklist: str
    check: Callable[[Any, ReportViolation], None]
    scope: str = "resource"  # "resource" (Analyze, inputs) or "stack" (AnalyzeStack, outputs)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    title: str = ""
    remediation: str = ""
    waivable: tuple[str, ...] = ()
    key: str | tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys or not all(self.keys):
            raise ValueError(f"{self.id}: a rule names the stack-file key its fix changes (key=...)")
        doc = inspect.cleandoc(self.check.__doc__ or "")
        first, _, rest = doc.partition("\n\n")
        if not self.title:
            object.__setattr__(self, "title", " ".join(first.split()))
        if not self.remediation:
            object.__setattr__(self, "remediation", " ".join(rest.split()))

    @property
    def description(self) -> str:
        return f"{self.id}: {self.title}"

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    @property
    def schema(self) -> dict[str, Mapping[str, Any]]:
        schema = dict(self.config)
        if self.waivable:
            reason = {"type": "string", "minLength": 10}
            named = [clause for clause in self.waivable if clause != ANY_CLAUSE]
            schema["waivers"] = {
                "type": "object", "default": {}, "properties": {clause: reason for clause in named},
                "additionalProperties": reason if ANY_CLAUSE in self.waivable else False,
                "description": "Clauses this stack does not meet yet, each with the reason (shown by readiness)"
                               + ("; a clause is a Worker or class name" if ANY_CLAUSE in self.waivable else "") + ".",
            }
        return schema

    def policy(self) -> ResourceValidationPolicy | StackValidationPolicy:
        schema = self.schema
        common = dict(
            name=self.name,
            description=self.description,
            display_name=f"{self.id} {self.title}",
            severity=self.severity,
            remediation_steps=self.remediation,
            tags=[self.id, f"checklist:{self.checklist}", *(KEY_TAG + key for key in self.keys)],
            framework=PolicyComplianceFramework(
                name=CHECKLIST, version=CHECKLIST_VERSION, reference=self.checklist,
                specification=CHECKLIST_SOURCE),
            config_schema=(PolicyConfigSchema(properties=schema, required=list(self.required) or None)
                           if schema else None),
        )
        if self.scope == "stack":
            return StackValidationPolicy(validate=_fail_closed(self.check), **common)
        return ResourceValidationPolicy(validate=_fail_closed(self.check), **common)


def _fail_closed(check: Callable[[Any, ReportViolation], None]) -> Callable[[Any, ReportViolation], None]:
    def validate(args: Any, report: ReportViolation) -> None:
        try:
            check(args, report)
        except UnknownValueError as error:
            report(unknown_message(error), getattr(args, "urn", None))
    return validate


def unknown_message(error: UnknownValueError) -> str:
    return (f"{UNKNOWN_PREFIX} {error.message}: the rule cannot prove this value compliant, so it "
            "fails closed. Make the value known at preview (a literal, or an output of a resource "
            "that already exists), or run `pulumi up` of the change without it first.")


@contextlib.contextmanager
def each_resource(report: ReportViolation, urn: str | None) -> Iterator[None]:
    """Check one resource of a stack rule: an unknown value is that resource's own finding and
    does not stop the rule from checking the others."""
    try:
        yield
    except UnknownValueError as error:
        report(unknown_message(error), urn)


# ---- reading props -------------------------------------------------------------------------

def of_type(resources: list, *types: str) -> list:
    return [r for r in resources if r.resource_type in types]


T = TypeVar("T")


def per_call(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """`build(args)` at most once per policy call: each policy of each `AnalyzeStack` gets its own
    `args`, so what is built from its resources (an index) is shared by every lookup of that call and
    freed with it. A rule that looks resources up per resource through such an index stays linear in
    the stack; a scan of the stack per lookup would grow with its square."""
    built: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()

    @functools.wraps(build)
    def once(args: Any) -> T:
        try:
            return built[args]
        except KeyError:
            built[args] = value = build(args)
            return value
    return once


class Lookup:
    """Items by the values they are matched on (`key == value`), in one pass: `find` gives the items
    having any of the wanted values, once each, in their original order, as a scan comparing every
    item would. Values are tagged (`("name", x)`, `("urn", u)`) so one item may be found several ways."""

    def __init__(self, items_: Iterable[Any], keys_of: Callable[[Any], Iterable[tuple[str, Any]]]):
        self.items = list(items_)
        self._at: dict[Hashable, list[int]] = {}
        self._unhashable: list[tuple[Any, int]] = []  # compared one by one, as the scan would
        for position, item in enumerate(self.items):
            for key in keys_of(item):
                try:
                    self._at.setdefault(key, []).append(position)
                except TypeError:
                    self._unhashable.append((key, position))

    def find(self, *keys: tuple[str, Any]) -> list:
        positions: set[int] = set()
        for key in keys:
            try:
                positions.update(self._at.get(key, ()))
            except TypeError:  # an unhashable wanted value: compare it with every key
                positions.update(p for k, ps in self._at.items() if k == key for p in ps)
                positions.update(p for k, p in self._unhashable if k == key)
                continue
            positions.update(p for k, p in self._unhashable if k == key)
        return [self.items[p] for p in sorted(positions)]


def items(value: Any) -> list:
    """A list-valued prop as a list ([] when absent or null)."""
    return list(value) if value is not None else []


def raw(mapping: Any, key: str) -> Any:
    """A prop without the unknown check (to test for unknown-ness or follow dependencies)."""
    if mapping is None:
        return None
    try:
        target = mapping["__target"]
    except (KeyError, TypeError):
        target = mapping
    return target.get(key) if isinstance(target, Mapping) else None


def is_unknown(value: Any) -> bool:
    from pulumi_policy.proxy import _is_unknown

    return _is_unknown(value)


def config(args: Any) -> Mapping[str, Any]:
    return args.get_config() or {}


def carries_environment(name: Any, environment: str) -> bool:
    """The naming rule of the program: physical names are `<logical>-<environment>`."""
    return isinstance(name, str) and (name.endswith(f"-{environment}") or name.endswith(f"_{environment}"))


def other_environment_marker(value: Any, environment: str) -> str | None:
    """The marker of another environment that `value` (a name, hostname or URL) carries, if any:
    `chittyconnect-staging` and `https://id-staging.chitty.cc` carry `staging`."""
    return next((other for other in sorted(environments_marked(value)) if other != environment), None)


def environments_marked(value: Any) -> set[str]:
    """The environments whose marker words `value` carries."""
    found = set(re.split(r"[^a-z0-9]+", value.lower())) if isinstance(value, str) else set()
    return {environment for environment, markers in ENVIRONMENT_MARKERS.items() if found & set(markers)}


def named_like(name: Any, prefix: str) -> bool:
    """`chittyops-project-awareness-production` is the `chittyops-project-awareness` one."""
    return isinstance(name, str) and (name == prefix or name.startswith((f"{prefix}-", f"{prefix}_")))


def stateful_name(resource: Any) -> Any:
    props = resource.props
    if resource.resource_type == KV_NAMESPACE:
        return props.get("title")
    if resource.resource_type == QUEUE:
        return props.get("queueName")
    if resource.resource_type == WORKERS_SCRIPT:
        return props.get("scriptName")
    return props.get("name")


def waiver(args: Any, clause: str) -> str | None:
    """The reason this stack's policy config gives for not meeting `clause` yet (None: enforced)."""
    return (config(args).get("waivers") or {}).get(clause)


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) for every leaf of a props value, paths written as the plan writes them
    (`bindings[3].text`). Reads the raw values, so an unknown leaf is yielded, not raised."""
    target = raw_target(value)
    if isinstance(target, Mapping):
        for key in target:
            yield from walk(target[key], f"{path}.{key}" if path else str(key))
    elif isinstance(target, (list, tuple)):
        for index, item in enumerate(target):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, target


def raw_target(value: Any) -> Any:
    """The value under a pulumi_policy proxy (unknown leaves stay sentinels instead of raising)."""
    try:
        return value["__target"]
    except (KeyError, TypeError, IndexError):
        return value


def plain(value: Any) -> Any:
    """A props value as plain dicts, lists and scalars, an unknown leaf written as the plan writes it."""
    target = raw_target(value)
    if isinstance(target, Mapping):
        return {key: plain(target[key]) for key in target}
    if isinstance(target, (list, tuple)):
        return [plain(item) for item in target]
    return UNKNOWN_IN_PLAN if is_unknown(target) else target


def shown(value: Any) -> str:
    """A props value in a message: its repr, never a proxy's (which carries a memory address, so the
    message would change at every run)."""
    return repr(plain(value))


def words(name: str) -> list[str]:
    """`CF-Access-Client-Secret`, `clientSecret`, `CHITTY_ID_TOKEN` -> lower-case words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if w]


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def duration_hours(value: Any) -> float | None:
    """`12h`, `30m`, `8760h`, `1h30m` -> hours; None when absent or not a duration (`forever`)."""
    if not isinstance(value, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    return sum(float(n) * {"h": 1, "m": 1 / 60, "s": 1 / 3600}[u] for n, u in parts)


def is_durable_object_host(props: Mapping[str, Any]) -> bool:
    """A Worker that declares Durable Object classes holds their data: deleting it loses it."""
    migrations = props.get("migrations")
    if not migrations:
        return False
    steps = [migrations, *items(migrations.get("steps"))]
    return any(items(step.get(key)) for step in steps
               for key in ("newSqliteClasses", "newClasses", "renamedClasses", "transferredClasses"))


def script_label(props: Mapping[str, Any]) -> Any:
    """The Worker a code resource belongs to: `scriptName` of a script, `workerId` of a version (the
    program passes the Worker's name). Read raw: a label must never fail a rule at preview."""
    return raw(props, "scriptName") or raw(props, "workerId")


def host_of(pattern: str) -> str:
    """The hostname of a route pattern (`api.chitty.cc/project-awareness/*` -> `api.chitty.cc`)."""
    return pattern.split("/", 1)[0].removeprefix("*.")


ENVIRONMENT_SCHEMA = {"type": "string", "enum": list(ENVIRONMENTS),
                      "description": "The stack this config is for; names must end in -<environment>."}
LITERAL_IDS_SCHEMA = {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "This stack's own literal ids (and legacy names) that bindings may use and adopted "
                   "resources may keep: never another stack's.",
}
REQUIRE_ZONE_SCHEMA = {
    "type": "boolean", "default": True,
    "description": "This stack owns the zone-wide settings: every zone it serves must carry them (false in a "
                   "stack that leaves the zone to another, as staging leaves it to production).",
}
