"""What every rule of the pack carries, and the plumbing shared by the policy modules.

A rule is a CrossGuard policy plus the metadata the readiness checklist needs: a stable id
(`CF-TLS-001`), a severity, remediation steps and the checklist item it enforces (seed 002).
The id and the checklist item travel in the policy's `tags` and `framework`, so any client of
the Analyzer protocol (the Pulumi CLI, `chittyos-edge gate`) can read them from
`GetAnalyzerInfo`.

Unknown values: `pulumi_policy` turns a read of a value that is unknown during preview into an
advisory "can't run policy during preview" and moves on. Here such a read becomes a finding of
the rule itself, reported at the rule's enforcement level (mandatory in production), so an
unknown value can never let a resource through unchecked.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

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
CHECKLIST_SOURCE = "seeds/002: Production Readiness Checklist (August 30, 2025)"
UNKNOWN_PREFIX = "[unknown at preview]"

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

# Resources that hold data: deleting or replacing one loses it.
STATEFUL_TYPES = (KV_NAMESPACE, R2_BUCKET, D1_DATABASE, QUEUE)

ENVIRONMENTS = ("staging", "production")


@dataclass(frozen=True)
class Rule:
    """One policy of the pack with its checklist metadata."""

    id: str
    name: str
    title: str
    severity: Severity
    checklist: str
    remediation: str
    check: Callable[[Any, ReportViolation], None]
    scope: str = "resource"  # "resource" (Analyze, inputs) or "stack" (AnalyzeStack, outputs)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return f"{self.id}: {self.title}"

    def policy(self) -> ResourceValidationPolicy | StackValidationPolicy:
        common = dict(
            name=self.name,
            description=self.description,
            display_name=f"{self.id} {self.title}",
            severity=self.severity,
            remediation_steps=self.remediation,
            tags=[self.id, f"checklist:{self.checklist}"],
            framework=PolicyComplianceFramework(
                name=CHECKLIST, version=CHECKLIST_VERSION, reference=self.checklist,
                specification=CHECKLIST_SOURCE),
            config_schema=(PolicyConfigSchema(properties=dict(self.config), required=list(self.required) or None)
                           if self.config else None),
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


def stateful_name(resource: Any) -> Any:
    props = resource.props
    if resource.resource_type == KV_NAMESPACE:
        return props.get("title")
    if resource.resource_type == QUEUE:
        return props.get("queueName")
    return props.get("name")


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
    "type": "boolean", "default": False,
    "description": "This stack owns the zone-wide settings: every zone it serves must carry them.",
}
