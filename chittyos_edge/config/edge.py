"""The edge: the 1Password Connect tunnel, zone security, monitoring and load balancing."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel, Hostname

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .stack import StackConfig

HEALTHCHECK_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "IN",
                       "SEAS", "NEAS", "ALL_REGIONS")
LB_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS")


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
        if len(set(values)) != len(values):
            raise ValueError(f"service token names must be unique: {values}")
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


_REF = r"^[a-z0-9][a-z0-9_-]{2,63}$"


class WafRule(ConfigModel):
    ref: str = Field(pattern=_REF, description="Stable rule reference, kept across edits.")
    description: str
    action: RuleAction
    expression: str = Field(min_length=1, description="Cloudflare Rules language expression.")
    enabled: bool = True


class ManagedRuleset(ConfigModel):
    ref: str = Field(pattern=_REF)
    description: str
    ruleset_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    disabled_categories: list[str] = Field(default_factory=list)


class RateLimitRule(ConfigModel):
    ref: str = Field(pattern=_REF)
    description: str
    expression: str = Field(min_length=1)
    requests_per_period: int = Field(ge=1)
    period: Literal[10, 60, 120, 300, 600, 3600] = 60
    mitigation_timeout: int = Field(60, ge=0, le=86400)
    action: RuleAction = RuleAction.BLOCK
    characteristics: list[str] = Field(default_factory=lambda: ["cf.colo.id", "ip.src"])

    @field_validator("characteristics")
    @classmethod
    def _colo(cls, values: list[str]) -> list[str]:
        if "cf.colo.id" not in values:
            raise ValueError("rate-limit characteristics must include 'cf.colo.id'")
        return values


class CacheRule(ConfigModel):
    ref: str = Field(pattern=_REF)
    description: str
    expression: str = Field(min_length=1)
    cache: bool = Field(description="false bypasses the cache.")
    edge_ttl_seconds: int | None = Field(None, ge=0)
    browser_ttl_seconds: int | None = Field(None, ge=0)
    cache_key_query_params: list[str] = Field(default_factory=list, description="Only these query params key the cache.")


class SecurityHeaders(ConfigModel):
    content_security_policy: str
    x_frame_options: Literal["DENY", "SAMEORIGIN"] = "DENY"
    x_content_type_options: Literal["nosniff"] = "nosniff"
    referrer_policy: str = "strict-origin-when-cross-origin"


SECURITY_HEADERS_REF = "security_headers"


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
        refs = [r.ref for r in (*self.waf_custom_rules, *self.managed_rulesets, *self.rate_limits, *self.cache_rules)]
        repeated = sorted({r for r in refs if refs.count(r) > 1})
        if repeated:
            raise ValueError(f"rule refs must be unique across phases, repeated: {repeated}")
        if SECURITY_HEADERS_REF in refs:
            raise ValueError(f"ref {SECURITY_HEADERS_REF!r} is reserved for the security-headers rule; rename it")
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
    regions: list[str] = Field(default_factory=lambda: ["WNAM", "ENAM", "WEU"])
    behind_access: bool = Field(False, description="Send the health-check service token (hostname is behind Access).")

    @field_validator("regions")
    @classmethod
    def _regions(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if v not in HEALTHCHECK_REGIONS]
        if bad:
            raise ValueError(f"unknown health-check regions {bad}; valid: {', '.join(HEALTHCHECK_REGIONS)}"
                             " (APAC is SEAS and NEAS)")
        return values

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


class AlertRoute(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    alert_type: str = Field(description="Cloudflare alert type, e.g. health_check_status_notification.")
    severity: Severity = Field(description="critical goes to PagerDuty and Slack, warning to Slack.")
    description: str = ""


class MonitoringConfig(ConfigModel):
    health_checks: list[HealthCheck] = Field(default_factory=list)
    alerts: list[AlertRoute] = Field(default_factory=list)
    pagerduty: bool = Field(True, description="Route critical alerts to PagerDuty (secret pagerdutyIntegrationKey).")
    slack: bool = Field(True, description="Route alerts to Slack (secret slackWebhookUrl).")

    @model_validator(mode="after")
    def _unique(self) -> "MonitoringConfig":
        for kind, names in (("health-check", [c.name for c in self.health_checks]),
                            ("alert", [a.name for a in self.alerts])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{kind} names must be unique, repeated: {repeated}")
        return self

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
    check_regions: list[str] = Field(default_factory=lambda: ["WNAM"])
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
    region_pools: dict[str, list[str]] = Field(default_factory=dict, description="Geo steering: region -> pool keys.")
    default_pools: list[str] = Field(default_factory=list)
    fallback_pool: str | None = None
    session_affinity: Literal["none", "cookie", "ip_cookie"] = "none"
    ttl: int = Field(60, ge=30)
    steering_policy: Literal["geo", "off", "random", "dynamic_latency", "proximity"] = Field(
        "geo", description="geo: regionPools decide, defaultPools elsewhere (the seeds' geo steering).")
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
        bad_regions = sorted(set(self.region_pools) - set(LB_REGIONS))
        if bad_regions:
            raise ValueError(f"unknown regions {bad_regions}; valid: {', '.join(LB_REGIONS)}")
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
            problems.append(f"monitoring.healthChecks: the public hostname {host!r} has no health check; add one "
                            f"with hostname: {host}")
    for i, check in enumerate(monitoring.health_checks):
        where = f"monitoring.healthChecks[{i}] ({check.name})"
        if check.hostname not in public:
            problems.append(f"{where}.hostname: {check.hostname!r} is not served by this stack "
                            f"(its hostnames: {', '.join(public) or 'none'}); check only this stack's hostnames")
        behind = tunnel is not None and check.hostname == tunnel.hostname
        if behind and not check.behind_access:
            problems.append(f"{where}.behindAccess: {check.hostname} is behind Access, so the check would only "
                            "ever see the login redirect; set behindAccess: true")
        if check.behind_access:
            if not behind:
                problems.append(f"{where}.behindAccess: only the tunnel hostname is behind Access; "
                                "remove behindAccess or point the check at tunnel.hostname")
            elif HEALTHCHECK_SERVICE_TOKEN not in tunnel.access.service_tokens:
                problems.append(f"{where}.behindAccess needs a service token named {HEALTHCHECK_SERVICE_TOKEN!r}; "
                                f"add it to tunnel.access.serviceTokens")
    for i, alert in enumerate(monitoring.alerts):
        where = f"monitoring.alerts[{i}] ({alert.name})"
        if not monitoring.destinations(alert.severity):
            problems.append(f"{where} has no destination: set monitoring.slack: true"
                            + (" or monitoring.pagerduty: true" if alert.severity is Severity.CRITICAL else ""))
        if alert.alert_type not in STACK_SCOPED_ALERTS and not config.is_production:
            problems.append(f"{where}.alertType: {alert.alert_type} watches the zone or account both stacks share; "
                            f"production declares it (only {', '.join(STACK_SCOPED_ALERTS)} are per stack)")
        if alert.alert_type == "tunnel_health_event" and tunnel is None:
            problems.append(f"{where}: tunnel_health_event needs the tunnel section; declare it or remove the alert")
        if alert.alert_type == "health_check_status_notification" and not monitoring.health_checks:
            problems.append(f"{where}: health_check_status_notification needs monitoring.healthChecks")
        if alert.alert_type == "load_balancing_health_alert" and not config.load_balancing.enabled:
            problems.append(f"{where}: load_balancing_health_alert needs loadBalancing.enabled: true")
    return problems
