"""The edge: the 1Password Connect tunnel, zone security, monitoring and load balancing."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Literal, Mapping, NamedTuple

from pydantic import Field, field_validator, model_validator

from .. import rules_language
from . import plans
from .base import AlertType, ConfigModel, Environment, HealthCheckRegion, Hostname, LbCheckRegion, LbRegion
from .cloudflare_enums import HEALTHCHECK_REGIONS, LB_REGIONS  # noqa: F401 (re-exported)
from .errors import repeats, shown
from .plans import ZonePlan, refusal

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .stack import StackConfig


# ---- secure tunnel -------------------------------------------------------------------------

HEALTHCHECK_SERVICE_TOKEN = "healthcheck"


class TunnelIngress(ConfigModel):
    path: str | None = Field(None, description="Regex on the request path, e.g. ^/v1/.*")
    service: str = Field(pattern=r"^(https?|tcp|unix|ssh|rdp)://\S+$",
                         description="Origin behind cloudflared, e.g. http://nginx-proxy:80")
    http_host_header: str | None = None
    connect_timeout_seconds: int = Field(10, ge=1, le=300)
    description: str = Field("", description="What this rule reaches (documentation only).")

    @field_validator("path")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"path must be a regular expression (cloudflared matches it): {error}") from None
        return value


class AccessConfig(ConfigModel):
    session_duration: str = Field("24h", pattern=r"^\d+(m|h)$")
    allow_email_domains: list[str] = Field(default_factory=list, description="People by email domain.")
    allow_group_ids: list[str] = Field(default_factory=list, description="People by Access group id.")
    service_tokens: list[str] = Field(
        default_factory=list, description="Machines: one service token is created per name; "
        f"'{HEALTHCHECK_SERVICE_TOKEN}' is the one health checks send.")
    service_token_duration: str = Field(
        "8760h", pattern=r"^(\d+h|forever)$",
        description="Lifetime of each service token; an expired token locks its machine out until rotated.")
    team_name: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Zero Trust team name (<team>.cloudflareaccess.com) cloudflared uses to verify the Access "
                    "token at the origin; when unset it is read from the account's Zero Trust organization.")

    @field_validator("service_tokens")
    @classmethod
    def _token_names(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.match(r"^[a-z0-9][a-z0-9-]{1,40}$", v)]
        if bad:
            raise ValueError(f"service token names must be lower-case letters, digits and '-': {bad}")
        repeated = repeats(((f"[{i}]", v) for i, v in enumerate(values)), "service token names")
        if repeated:
            raise ValueError("\n".join(repeated))
        return values

    @model_validator(mode="after")
    def _someone(self) -> "AccessConfig":
        if not (self.allow_email_domains or self.allow_group_ids or self.service_tokens):
            raise ValueError("Access must allow someone: set allowEmailDomains, allowGroupIds or serviceTokens")
        return self


class AdoptTunnel(ConfigModel):
    """A tunnel that exists today, imported (`<account>/<id>`) instead of created; it keeps its name."""

    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    description="The tunnel's id (a UUID).")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", description="Its live name, verbatim.")


class TunnelConfig(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", description="Base tunnel name; the environment is appended.")
    adopt: AdoptTunnel | None = Field(None, description="Import the tunnel that runs today instead of creating one.")
    hostname: Hostname
    ingress: list[TunnelIngress] = Field(min_length=1, description="Rules for the hostname; the catch-all 404 is added last.")
    access: AccessConfig


# ---- edge security (zone-wide singletons: production only) ----------------------------------

class Hsts(ConfigModel):
    max_age: int = Field(31536000, ge=0)
    include_subdomains: bool = True
    preload: bool = True
    nosniff: bool = True


class ZoneTls(ConfigModel):
    min_tls_version: Literal["1.0", "1.1", "1.2", "1.3"] = "1.3"
    ssl_mode: Literal["off", "flexible", "full", "strict"] = "strict"
    always_use_https: bool = True
    automatic_https_rewrites: bool = True
    tls_1_3: Literal["on", "off", "zrt"] = "on"
    http3: bool = True
    dnssec: bool = True
    hsts: Hsts = Field(default_factory=Hsts)


class RuleAction(StrEnum):
    BLOCK = "block"
    CHALLENGE = "challenge"
    JS_CHALLENGE = "js_challenge"
    MANAGED_CHALLENGE = "managed_challenge"
    LOG = "log"

    @property
    def is_challenge(self) -> bool:
        return self in (RuleAction.CHALLENGE, RuleAction.JS_CHALLENGE, RuleAction.MANAGED_CHALLENGE)


_REF = r"^[a-z0-9][a-z0-9_-]{2,63}$"
TUNNEL_OWNER = "tunnel"


class Scoped(ConfigModel):
    """Which hostnames a zone-wide rule applies to: it never reaches other services of the zone.

    The program prefixes the rule's expression with `http.host in {...}` built from the stack config,
    so hostnames are never written by hand in an expression.
    """

    services: list[str] | None = Field(
        None, description="Service keys (or 'tunnel') whose hostnames the rule covers; unset: every hostname "
                          "the stack serves (services, tunnel, load balancer).")
    environments: list[Environment] = Field(
        default_factory=lambda: [Environment.PRODUCTION],
        description="Stacks whose hostnames the rule covers. Production's rules reach staging's hostnames only "
                    "when staging is listed (read from Pulumi.staging.yaml).")

    # Whether the rule may be deployed as several rules on disjoint sets of hostnames when one expression
    # would be over Cloudflare's length (`deployed_rules`): only where that is the same rule to a request.
    SPLITS: ClassVar[bool] = False


def _no_host(value: str) -> str:
    try:
        found = rules_language.usage(value)
    except rules_language.ExpressionError as error:
        raise ValueError(f"not a Rules language expression: {error}") from None
    if "http.host" in found.fields:
        raise ValueError("do not test http.host in the expression: the program scopes every rule to the "
                         "hostnames it serves (set services/environments instead)")
    return value


class WafRule(Scoped):
    """Block or challenge on a request of disjoint hosts is the same whichever rule matched it."""

    SPLITS: ClassVar[bool] = True
    ref: str = Field(pattern=_REF, description="Stable rule reference, kept across edits.")
    description: str
    action: RuleAction
    expression: str = Field(min_length=1, description="Cloudflare Rules language expression (without http.host).")
    enabled: bool = True

    _expression = field_validator("expression")(classmethod(lambda cls, v: _no_host(v)))


class ManagedRuleset(Scoped):
    """Execute rules of one managed ruleset on disjoint hosts: a request matches at most one of them, and
    Cloudflare executes a managed ruleset at most once per request anyway ("Deploy rulesets via API",
    https://developers.cloudflare.com/waf/managed-rulesets/deploy-api)."""

    SPLITS: ClassVar[bool] = True
    ref: str = Field(pattern=_REF)
    description: str
    ruleset_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    disabled_categories: list[str] = Field(default_factory=list)
    expression: str = "true"


BURST_PERIOD = 10


class RateLimitRule(Scoped):
    """Never split: each rule counts on its own (a client would get the rate once per chunk of hosts),
    and the zone's plan caps the number of rate-limit rules."""

    ref: str = Field(pattern=_REF)
    description: str
    expression: str = Field(min_length=1, description="Rules language expression (without http.host).")
    requests_per_period: int = Field(ge=1)
    period: Literal[10, 60, 120, 300, 600, 3600] = 60
    mitigation_timeout: int | None = Field(
        None, ge=0, le=86400,
        description="Seconds the action lasts once the rate is reached; 0 throttles only the requests above "
                    "the rate. Default: 0 for challenge actions (required below Enterprise), 60 for block.")
    action: RuleAction = RuleAction.BLOCK
    characteristics: list[str] = Field(default_factory=lambda: ["cf.colo.id", "ip.src"])
    burst: int | None = Field(
        None, ge=1,
        description="Token-bucket burst of the optimization report: adds a companion rule '<ref>_burst' counting over "
                    f"{BURST_PERIOD} s, at burst + the rate's share of {BURST_PERIOD} s (the most a bucket of "
                    "this size and rate lets through in that time).")

    _expression = field_validator("expression")(classmethod(lambda cls, v: _no_host(v)))

    @field_validator("characteristics")
    @classmethod
    def _colo(cls, values: list[str]) -> list[str]:
        if "cf.colo.id" not in values:
            raise ValueError("rate-limit characteristics must include 'cf.colo.id'")
        return values

    @property
    def timeout(self) -> int:
        if self.mitigation_timeout is not None:
            return self.mitigation_timeout
        return 0 if self.action.is_challenge else 60

    @property
    def burst_requests(self) -> int | None:
        """Requests per BURST_PERIOD of the companion rule, or None without a burst."""
        if self.burst is None:
            return None
        return self.burst + -(-self.requests_per_period * BURST_PERIOD // self.period)

    def edge_rules(self) -> list[tuple[str, int, int]]:
        """(ref, period, requests) of each rule this entry becomes: itself, then its burst companion."""
        rules = [(self.ref, self.period, self.requests_per_period)]
        if self.burst_requests is not None:
            rules.append((f"{self.ref}_burst", BURST_PERIOD, self.burst_requests))
        return rules


class CacheRule(Scoped):
    """Cache settings on disjoint hosts: each request gets the settings of the one rule matching it."""

    SPLITS: ClassVar[bool] = True
    ref: str = Field(pattern=_REF)
    description: str
    expression: str = Field(min_length=1)
    cache: bool = Field(description="false bypasses the cache.")
    edge_ttl_seconds: int | None = Field(None, ge=0)
    browser_ttl_seconds: int | None = Field(None, ge=0)
    cache_key_query_params: list[str] = Field(default_factory=list, description="Only these query params key the cache.")

    _expression = field_validator("expression")(classmethod(lambda cls, v: _no_host(v)))


SECURITY_HEADERS_REF = "security_headers"


class SecurityHeaders(Scoped):
    """Headers set on the responses of disjoint hosts: each response by the one rule matching it."""

    SPLITS: ClassVar[bool] = True
    content_security_policy: str
    x_frame_options: Literal["DENY", "SAMEORIGIN"] = "DENY"
    x_content_type_options: Literal["nosniff"] = "nosniff"
    referrer_policy: str = "strict-origin-when-cross-origin"

    @property
    def ref(self) -> str:
        return SECURITY_HEADERS_REF

    @property
    def expression(self) -> str:
        return "true"


class EdgeSecurityConfig(ConfigModel):
    """Zone-wide singletons. Exactly one stack (production) may declare this section."""

    tls: ZoneTls = Field(default_factory=ZoneTls)
    security_headers: SecurityHeaders
    waf_custom_rules: list[WafRule] = Field(default_factory=list)
    managed_rulesets: list[ManagedRuleset] = Field(default_factory=list)
    rate_limits: list[RateLimitRule] = Field(default_factory=list)
    cache_rules: list[CacheRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_refs(self) -> "EdgeSecurityConfig":
        refs = [(f"{key}[{i}].ref", rule.ref)
                for key, rules in (("wafCustomRules", self.waf_custom_rules), ("managedRulesets", self.managed_rulesets),
                                   ("rateLimits", self.rate_limits), ("cacheRules", self.cache_rules))
                for i, rule in enumerate(rules)]
        problems = repeats(refs, "rule refs (across phases)")
        problems += [f"{path}: {SECURITY_HEADERS_REF!r} is reserved for the security-headers rule; rename it"
                     for path, ref in refs if ref == SECURITY_HEADERS_REF]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def phases(self) -> dict[str, list]:
        """Each phase this config owns (it has rules), in a fixed order."""
        owned = {
            "http_request_firewall_custom": list(self.waf_custom_rules),
            "http_request_firewall_managed": list(self.managed_rulesets),
            "http_ratelimit": list(self.rate_limits),
            "http_request_cache_settings": list(self.cache_rules),
            "http_response_headers_transform": [self.security_headers],
        }
        return {phase: rules for phase, rules in owned.items() if rules}


# ---- monitoring ----------------------------------------------------------------------------

class HealthCheck(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    hostname: Hostname
    path: str = "/health"
    method: Literal["GET", "HEAD"] = "GET"
    interval: int = Field(60, ge=15, le=3600, description="Seconds between checks.")
    timeout: int = Field(5, ge=1, le=60)
    retries: int = Field(2, ge=0, le=5)
    expected_codes: list[str] = Field(default_factory=lambda: ["200"])
    expected_body: str | None = None
    regions: list[HealthCheckRegion] = Field(default_factory=lambda: ["WNAM", "ENAM", "WEU"],
                                             description="Where Cloudflare probes from (APAC is SEAS and NEAS).")
    behind_access: bool = Field(False, description="Send the health-check service token (hostname is behind Access).")
    consecutive_fails: int = Field(
        3, ge=1, le=10, description="Failed probes in a row before the check turns unhealthy (the optimization report's "
                                    "'health_check_failures >= 3'); 1 pages on a single lost probe.")
    consecutive_successes: int = Field(
        3, ge=1, le=10, description="Good probes in a row before the check turns healthy again (no flapping).")

    @model_validator(mode="after")
    def _timeout(self) -> "HealthCheck":
        if self.timeout >= self.interval:
            raise ValueError("timeout must be shorter than interval")
        return self


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


# Alert types whose notification policy is filtered to this stack's own resources. Every other type
# watches the whole zone or account, which both stacks share: production alone declares those.
STACK_SCOPED_ALERTS = ("health_check_status_notification", "tunnel_health_event")

# Alert types with a health-state filter: a critical route pages only on the failure state, and its
# recoveries go to a companion "<name>-recovered" policy that notifies Slack alone.
# (filter key on the wire, failure values, recovery values)
RECOVERY_FILTERS: dict[str, tuple[str, list[str], list[str]]] = {
    "health_check_status_notification": ("statuses", ["Unhealthy"], ["Healthy"]),
    "load_balancing_health_alert": ("new_healths", ["Unhealthy"], ["Healthy"]),
}
RUNBOOK_DIR = "docs/runbooks"


class AlertRoute(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    alert_type: AlertType = Field(description="Cloudflare alert type, e.g. health_check_status_notification.")
    severity: Severity = Field(description="critical goes to PagerDuty and Slack, warning to Slack.")
    description: str = ""
    filters: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Extra notification filters by their Pulumi name, e.g. slos: ['99.9'] (error-rate alerts) or "
                    "products/limits (Usage Based Billing); the program adds the stack's own ids and zone.")
    health_checks: list[str] | None = Field(
        None, description="health_check_status_notification only: the monitoring.healthChecks names it watches; "
                          "unset: every check no other health alert of the stack names.")
    runbook: str | None = Field(
        None, pattern=r"^docs/runbooks/[a-z0-9-]+\.md$",
        description=f"What to do when it fires; default {RUNBOOK_DIR}/<name>.md. Linked from the policy's description.")

    @property
    def runbook_path(self) -> str:
        return self.runbook or f"{RUNBOOK_DIR}/{self.name}.md"


class MonitoringConfig(ConfigModel):
    health_checks: list[HealthCheck] = Field(default_factory=list)
    alerts: list[AlertRoute] = Field(default_factory=list)
    pagerduty: bool = Field(True, description="Route critical alerts to PagerDuty (secret pagerdutyIntegrationKey).")
    slack: bool = Field(True, description="Route alerts to Slack (secret slackWebhookUrl).")

    @model_validator(mode="after")
    def _unique(self) -> "MonitoringConfig":
        problems = repeats(((f"healthChecks[{i}].name", c.name) for i, c in enumerate(self.health_checks)),
                           "health-check names")
        problems += repeats(((f"alerts[{i}].name", a.name) for i, a in enumerate(self.alerts)), "alert names")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def checks_of(self, alert: AlertRoute) -> list[str]:
        """Names of the health checks a health-check alert watches."""
        if alert.health_checks is not None:
            return list(alert.health_checks)
        claimed = {name for other in self.alerts if other.health_checks is not None for name in other.health_checks}
        return [c.name for c in self.health_checks if c.name not in claimed]

    def destinations(self, severity: Severity) -> list[str]:
        """Where an alert of this severity goes: 'pagerduty' and/or 'slack'."""
        found = []
        if severity is Severity.CRITICAL and self.pagerduty:
            found.append("pagerduty")
        if self.slack:
            found.append("slack")
        return found


# ---- load balancing ------------------------------------------------------------------------

class Origin(ConfigModel):
    name: str
    address: Hostname
    weight: float = Field(1.0, ge=0, le=1)
    enabled: bool = True


class Pool(ConfigModel):
    origins: list[Origin] = Field(min_length=1)
    check_regions: list[LbCheckRegion] = Field(default_factory=lambda: ["WNAM"])
    minimum_origins: int = Field(1, ge=1)


class LbMonitor(ConfigModel):
    path: str = "/health"
    expected_codes: str = "200"
    expected_body: str | None = None
    interval: int = Field(60, ge=10, le=3600)
    timeout: int = Field(5, ge=1, le=10)
    retries: int = Field(2, ge=0, le=5)


class LoadBalancingConfig(ConfigModel):
    enabled: bool = Field(False, description="Off unless turned on (costs money per origin and check).")
    hostname: Hostname | None = None
    monitor: LbMonitor = Field(default_factory=LbMonitor)
    pools: dict[str, Pool] = Field(default_factory=dict)
    region_pools: dict[LbRegion, list[str]] = Field(default_factory=dict, description="Geo steering: region -> pool keys.")
    default_pools: list[str] = Field(default_factory=list)
    fallback_pool: str | None = None
    session_affinity: Literal["none", "cookie", "ip_cookie"] = "none"
    ttl: int = Field(60, ge=30)
    steering_policy: Literal["geo", "off", "random", "dynamic_latency", "proximity"] = Field(
        "geo", description="geo: regionPools decide, defaultPools elsewhere (the optimization report's geo steering).")
    failover_across_pools: bool = Field(
        True, description="Adaptive routing: retry a failed request on the next pool (zero-downtime failover).")

    @model_validator(mode="after")
    def _references(self) -> "LoadBalancingConfig":
        if not self.enabled:
            return self
        if not self.hostname or not self.pools or not self.fallback_pool or not self.default_pools:
            raise ValueError("an enabled load balancer needs hostname, pools, defaultPools and fallbackPool")
        known = set(self.pools)
        referenced = {self.fallback_pool, *self.default_pools, *(p for ps in self.region_pools.values() for p in ps)}
        unknown = sorted(referenced - known)
        if unknown:
            raise ValueError(f"unknown pools {unknown}; declared pools: {sorted(known)}")
        return self


# ---- cross-section rules (called by StackConfig) ---------------------------------------------

def edge_problems(config: "StackConfig") -> list[str]:
    """Rules that tie monitoring to the rest of the stack: one line per problem, naming key and fix."""
    problems: list[str] = []
    monitoring, tunnel = config.monitoring, config.tunnel
    public = config.public_hostnames()
    checked = {c.hostname for c in monitoring.health_checks}
    for host in public:
        if host not in checked:
            problems.append(f"monitoring.healthChecks: the public hostname {shown(host)} has no health check; add one "
                            "with that hostname")
    for i, check in enumerate(monitoring.health_checks):
        where = f"monitoring.healthChecks[{i}]"
        if check.hostname not in public:
            problems.append(f"{where}.hostname: {shown(check.hostname)} ({check.name}) is not served by this stack "
                            f"(its hostnames: {', '.join(public) or 'none'}); check only this stack's hostnames")
        behind = tunnel is not None and check.hostname == tunnel.hostname
        if behind and not check.behind_access:
            problems.append(f"{where}.behindAccess: {check.hostname} ({check.name}) is behind Access, so the check would only "
                            "ever see the login redirect; set behindAccess: true")
        if check.behind_access:
            if not behind:
                problems.append(f"{where}.behindAccess: only the tunnel hostname is behind Access ({check.name}); "
                                "remove behindAccess or point the check at tunnel.hostname")
            elif HEALTHCHECK_SERVICE_TOKEN not in tunnel.access.service_tokens:
                problems.append(f"{where}.behindAccess: {check.name} needs a service token named "
                                f"{HEALTHCHECK_SERVICE_TOKEN!r}; "
                                f"add it to tunnel.access.serviceTokens")
    for i, alert in enumerate(monitoring.alerts):
        where = f"monitoring.alerts[{i}]"
        if not monitoring.destinations(alert.severity):
            problems.append(f"{where}.severity: {alert.name} has no destination; set monitoring.slack: true"
                            + (" or monitoring.pagerduty: true" if alert.severity is Severity.CRITICAL else ""))
        if alert.alert_type not in STACK_SCOPED_ALERTS and not config.is_production:
            problems.append(f"{where}.alertType: {alert.alert_type} ({alert.name}) watches the zone or account both stacks share; "
                            f"production declares it (only {', '.join(STACK_SCOPED_ALERTS)} are per stack)")
        if alert.alert_type == "tunnel_health_event" and tunnel is None:
            problems.append(f"{where}.alertType: tunnel_health_event needs the tunnel section; declare it or remove the alert")
        if alert.alert_type == "health_check_status_notification" and not monitoring.health_checks:
            problems.append(f"{where}.alertType: health_check_status_notification needs monitoring.healthChecks")
        if alert.health_checks is not None:
            names = {c.name for c in monitoring.health_checks}
            if alert.alert_type != "health_check_status_notification":
                problems.append(f"{where}.healthChecks: only health_check_status_notification alerts take it")
            unknown = sorted(set(alert.health_checks) - names)
            if unknown:
                problems.append(f"{where}.healthChecks: unknown checks {unknown}; declared: {', '.join(sorted(names))}")
        if alert.alert_type == "load_balancing_health_alert" and not config.load_balancing.enabled:
            problems.append(f"{where}.alertType: load_balancing_health_alert needs loadBalancing.enabled: true")
    return problems


# ---- the zone's plan (called by StackConfig) ----------------------------------------------------

def _expression_problems(key: str, expression: str, plan: ZonePlan, what: str,
                         allowed_fields: frozenset[str] | None = None) -> list[str]:
    """Fields, functions, operators and lists of one expression against the Rules-language reference."""
    reference = rules_language.reference()
    try:
        found = rules_language.usage(expression)
    except rules_language.ExpressionError as error:
        return [f"{key}: not a Rules language expression: {error}"]
    problems = []
    by_plan = {p.value: p for p in ZonePlan}

    def needs(name: str, kind: str, entry: dict) -> None:
        required = by_plan[entry["plan"]]
        source = (f"{reference['sources']['fields']}{name}/" if kind == "field"
                  else reference["sources"].get(kind + "s", reference["sources"]["fields"]))
        entitlement = plans.Entitlement(f"the {kind} {name}", {p: p.rank >= required.rank for p in ZonePlan}, source)
        line = refusal(key, entitlement, plan, bool, what)
        if line:
            problems.append(line)

    for name in sorted(found.fields):
        if name not in reference["fields"]:
            problems.append(f"{key}: unknown field {name!r} (not in chittyos_edge/data/rules_language.json; add it "
                            f"with its type and plan from {reference['sources']['fields']})")
            continue
        needs(name, "field", reference["fields"][name])
        if allowed_fields is not None and name not in allowed_fields:
            entitlement = plans.RATE_LIMIT_EXPRESSION_FIELDS
            line = refusal(key, entitlement, plan, lambda allowed, n=name: allowed is None or n in allowed,
                           f"{what} (field {name})")
            if line:
                problems.append(line)
    for name in sorted(found.functions):
        if name not in reference["functions"]:
            problems.append(f"{key}: unknown function {name}() (not in chittyos_edge/data/rules_language.json)")
            continue
        needs(name, "function", reference["functions"][name])
    for name in sorted(found.named_lists):
        entry = reference["managed_lists"].get(name)
        if entry is not None:
            needs(f"${name}", "managed IP list", entry)
    if "matches" in found.operators:
        line = refusal(key, plans.REGEX_MATCHES, plan, bool, what)
        if line:
            problems.append(line)
    return problems


def _count_problem(key: str, count: int, entitlement: plans.Entitlement, plan: ZonePlan,
                   detail: str = "") -> list[str]:
    limit = entitlement.at(plan)
    if count <= limit:
        return []
    lowest = entitlement.lowest_plan(lambda allowed: count <= allowed)
    where = f"the {lowest.title} plan or higher allows {count}" if lowest else "no plan allows that many"
    return [f"{key}: {count} {entitlement.feature}{detail}, but the {plan.title} plan declared in zone.plan allows "
            f"{limit}; {where} (source: {entitlement.source})"]


def plan_problems(config: "StackConfig") -> list[str]:
    """Everything the stack asks of the zone that the plan in zone.plan does not include."""
    plan = config.zone.plan
    problems: list[str] = []
    security = config.edge_security
    if security is not None:
        waf = "edgeSecurity.wafCustomRules"
        problems += _count_problem(waf, len(security.waf_custom_rules), plans.CUSTOM_RULES, plan)
        for i, rule in enumerate(security.waf_custom_rules):
            key = f"{waf}[{i}] ({rule.ref})"
            problems += _expression_problems(f"{key}.expression", rule.expression, plan, "the rule")
            if rule.action is RuleAction.LOG:
                problems += [line for line in [refusal(f"{key}.action", plans.CUSTOM_RULE_LOG_ACTION, plan, bool,
                                                       "the action log")] if line]
        for i, managed in enumerate(security.managed_rulesets):
            entitlement = plans.MANAGED_RULESETS.get(managed.ruleset_id)
            if entitlement is not None:
                line = refusal(f"edgeSecurity.managedRulesets[{i}] ({managed.ref}).rulesetId", entitlement, plan,
                               bool, "the ruleset")
                problems += [line] if line else []
        rl = "edgeSecurity.rateLimits"
        edge_rules = sum(len(rule.edge_rules()) for rule in security.rate_limits)
        problems += _count_problem(rl, edge_rules, plans.RATE_LIMIT_RULES, plan)
        for i, rule in enumerate(security.rate_limits):
            key = f"{rl}[{i}] ({rule.ref})"
            # Checked with what the program adds: the host (and route path) condition.
            condition = rules_language.host_condition(["host.example", "host.example/prefix/"])
            problems += _expression_problems(
                f"{key}.expression", f"({condition}) and ({rule.expression})",
                plan, "the rule", plans.RATE_LIMIT_EXPRESSION_FIELDS.at(plan) or None)
            checks = [
                (f"{key}.period", plans.RATE_LIMIT_PERIODS, lambda allowed: rule.period in allowed,
                 f"a period of {rule.period} s"),
                (f"{key}.characteristics", plans.RATE_LIMIT_CHARACTERISTICS,
                 lambda allowed: set(rule.characteristics) <= allowed, f"counting by {rule.characteristics}"),
            ]
            if rule.burst is not None:
                checks.append((f"{key}.burst", plans.RATE_LIMIT_PERIODS, lambda allowed: BURST_PERIOD in allowed,
                               f"a burst rule counting over {BURST_PERIOD} s"))
            if rule.action.is_challenge and rule.timeout > 0:
                checks.append((f"{key}.mitigationTimeout", plans.RATE_LIMIT_CHALLENGE_WITH_TIMEOUT, bool,
                               f"a mitigation timeout of {rule.timeout} s with {rule.action.value} "
                               "(below Enterprise set 0: throttle)"))
            elif not (rule.action.is_challenge and rule.timeout == 0):
                checks.append((f"{key}.mitigationTimeout", plans.RATE_LIMIT_TIMEOUTS,
                               lambda allowed: rule.timeout in allowed, f"a mitigation timeout of {rule.timeout} s"))
            for where, entitlement, accepts, what in checks:
                line = refusal(where, entitlement, plan, accepts, what)
                problems += [line] if line else []
        cache = "edgeSecurity.cacheRules"
        problems += _count_problem(cache, len(security.cache_rules), plans.CACHE_RULES, plan)
        for i, rule in enumerate(security.cache_rules):
            key = f"{cache}[{i}] ({rule.ref})"
            problems += _expression_problems(f"{key}.expression", rule.expression, plan, "the rule")
            if rule.cache_key_query_params:
                line = refusal(f"{key}.cacheKeyQueryParams", plans.CUSTOM_CACHE_KEY, plan, bool, "the rule")
                problems += [line] if line else []
    monitoring = config.monitoring
    problems += _count_problem("monitoring.healthChecks", len(monitoring.health_checks), plans.HEALTH_CHECKS, plan)
    for i, alert in enumerate(monitoring.alerts):
        entitlement = plans.ALERT_TYPES.get(alert.alert_type)
        if entitlement is not None:
            line = refusal(f"monitoring.alerts[{i}] ({alert.name}).alertType", entitlement, plan, bool, "the alert")
            problems += [line] if line else []
    return problems


def scope_problems(config: "StackConfig") -> list[str]:
    """Rule scopes name known services; no zone cache rule reaches a hostname a Worker answers."""
    security = config.edge_security
    if security is None:
        return []
    problems = []
    owners = config.hostnames_by_owner()
    groups = (("wafCustomRules", security.waf_custom_rules), ("managedRulesets", security.managed_rulesets),
              ("rateLimits", security.rate_limits), ("cacheRules", security.cache_rules))
    for section, rules in groups:
        for i, rule in enumerate(rules):
            unknown = sorted(set(rule.services or []) - set(owners))
            if unknown:
                problems.append(f"edgeSecurity.{section}[{i}] ({rule.ref}).services: unknown {unknown}; "
                                f"use service keys or '{TUNNEL_OWNER}' (known: {', '.join(sorted(owners))})")
    worker_hosts = {host for owner, hosts in owners.items() if owner != TUNNEL_OWNER for host in hosts}
    for i, rule in enumerate(security.cache_rules):
        hosts = {h for owner, hs in owners.items() if rule.services is None or owner in rule.services for h in hs}
        served = sorted(hosts & worker_hosts)
        if served:
            problems.append(
                f"edgeSecurity.cacheRules[{i}] ({rule.ref}): {', '.join(served)} {'is' if len(served) == 1 else 'are'} "
                "answered by a Worker, and zone cache rules never cache what a Worker generates; put the TTLs and "
                "cache keys in the service's vars (the Worker caches with the Cache API) and remove the rule")
    unknown = sorted(set(security.security_headers.services or []) - set(owners))
    if unknown:
        problems.append(f"edgeSecurity.securityHeaders.services: unknown {unknown}")
    if not problems:
        problems += deployed_problems(security, {config.environment: config.served_by_owner()}, config.zone.plan)
    return problems


# What is served, per environment, per owner (service key or "tunnel"): StackConfig.served_by_owner().
ServedHostnames = Mapping[Environment, Mapping[str, list[str]]]


def rule_sites(rule: Scoped, served: ServedHostnames) -> list[str]:
    """The sites a rule covers: the hostnames (and `host/prefix/` routes) of the owners its `services`
    name, in the environments it lists that `served` holds."""
    sites: list[str] = []
    for environment in rule.environments:
        for owner, names in served.get(environment, {}).items():
            if rule.services is None or owner in rule.services:
                sites.extend(names)
    return list(dict.fromkeys(sites))


class DeployedRule(NamedTuple):
    ref: str
    sites: list[str]
    expression: str


def part_ref(ref: str, part: int) -> str:
    """The ref of part `part` (from 1) of a split rule: the first keeps the rule's own."""
    return ref if part == 1 else f"{ref}_{part}"


def deployed_rules(rule: Scoped, served: ServedHostnames) -> list[DeployedRule]:
    """The rules `rule` is deployed as: its expression on its sites (`rules_language.scoped`), as one rule,
    or, for a rule that SPLITS and would be over Cloudflare's expression length, as `<ref>`, `<ref>_2`, ...
    on consecutive chunks of its hostnames (`rules_language.split_scoped`: hostnames added at the end change
    the last part or add one). Raises ValueError when the rule covers no site, the rules-language errors
    (RouteRewriteError, TooLongError) when it cannot be deployed; config validation reports those first."""
    sites = rule_sites(rule, served)
    if not sites:
        raise ValueError(f"rule scope {rule.services} / {[e.value for e in rule.environments]} names no hostname")
    if not rule.SPLITS:
        return [DeployedRule(rule.ref, sites, rules_language.scoped(sites, rule.expression))]
    return [DeployedRule(part_ref(rule.ref, part), chunk, text)
            for part, (chunk, text) in enumerate(rules_language.split_scoped(sites, rule.expression), 1)]


def _quotas() -> dict[str, plans.Entitlement]:
    """The plan's cap on the rules of each section whose rules may split (managed rulesets have none)."""
    return {"wafCustomRules": plans.CUSTOM_RULES, "cacheRules": plans.CACHE_RULES,
            "securityHeaders": plans.TRANSFORM_RULES}


def deployed_problems(security: EdgeSecurityConfig, served: ServedHostnames, plan: ZonePlan) -> list[str]:
    """Each rule as the program deploys it on the sites it covers (`deployed_rules`): its path tests can
    be moved under every Worker route's prefix; each expression fits Cloudflare's length, split where
    that keeps the rule's meaning, refused where it does not (rate limits) or where one hostname alone is
    too long; the parts count against the plan's rule quotas, and every deployed ref is unique."""
    problems: list[str] = []
    groups = (("wafCustomRules", security.waf_custom_rules), ("managedRulesets", security.managed_rulesets),
              ("rateLimits", security.rate_limits), ("cacheRules", security.cache_rules),
              ("securityHeaders", [security.security_headers]))
    limit = rules_language.MAX_EXPRESSION_LENGTH
    parts: dict[str, list[tuple[str, int]]] = {}  # section -> (ref, rules deployed) of each of its rules
    declared_refs: list[tuple[str, str]] = []
    part_refs: list[tuple[str, str]] = []
    for section, rules in groups:
        for i, rule in enumerate(rules):
            key = (f"edgeSecurity.{section}[{i}] ({rule.ref})" if section != "securityHeaders"
                   else "edgeSecurity.securityHeaders")
            sites = rule_sites(rule, served)
            if not sites:
                if set(rule.environments) <= set(served):
                    problems.append(f"{key}.services: the rule covers no hostname this program serves in "
                                    f"{', '.join(e.value for e in rule.environments)}; name a service that has one")
                continue
            try:
                built = deployed_rules(rule, served)
            except rules_language.TooLongError as error:
                problems.append(f"{key}.expression: {error}, even as a rule of its own (a rule is split across "
                                "hostnames, never within one). Shorten it")
                continue
            except rules_language.RouteRewriteError as error:
                problems.append(f"{key}.expression: {error}")
                continue
            except rules_language.ExpressionError:
                continue  # reported with the plan's fields and functions
            length = len(built[0].expression)
            if length > limit:  # only a rule that does not split
                problems.append(
                    f"{key}.expression: as deployed on its {len(sites)} sites (host conditions, and the path tests "
                    f"repeated for each route prefix) the expression is {length} characters; Cloudflare allows "
                    f"{limit}. A rate-limit rule is not split across sites (each rule keeps its own counters, and the "
                    "zone's plan caps their number): shorten it or split the rule by services")
            parts.setdefault(section, []).append((rule.ref, len(built)))
            companions = [ref for ref, _, _ in rule.edge_rules()] if isinstance(rule, RateLimitRule) else [rule.ref]
            declared_refs += [(key, ref) for ref in companions]
            part_refs += [(f"{key} part {part}", split.ref) for part, split in enumerate(built[1:], 2)]
    problems += repeats(declared_refs + part_refs, "rule refs as deployed (a rule split to fit Cloudflare's "
                                                   "expression length takes <ref>_2, <ref>_3, ...)")
    for section, entitlement in _quotas().items():
        counts = parts.get(section, [])
        declared, total = len(counts), sum(n for _, n in counts)
        if total > declared and declared <= entitlement.at(plan):  # a declared count over it: plan_problems
            split = ", ".join(f"{ref} into {n}" for ref, n in counts if n > 1)
            problems += _count_problem(f"edgeSecurity.{section}", total, entitlement, plan,
                                       f" as deployed ({declared} declared, split to fit Cloudflare's {limit} "
                                       f"characters per expression: {split})")
    return problems
