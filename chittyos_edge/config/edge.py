"""The edge: the 1Password Connect tunnel, zone security, monitoring and load balancing."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel, Hostname

HEALTHCHECK_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "IN",
                       "SEAS", "NEAS", "ALL_REGIONS")
LB_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS")


# ---- secure tunnel -------------------------------------------------------------------------

class TunnelIngress(ConfigModel):
    path: str | None = Field(None, description="Regex on the request path, e.g. ^/v1/.*")
    service: str = Field(description="Origin behind cloudflared, e.g. http://nginx-proxy:80")
    http_host_header: str | None = None
    connect_timeout_seconds: int = Field(10, ge=1, le=300)


class AccessConfig(ConfigModel):
    session_duration: str = Field("24h", pattern=r"^\d+(m|h)$")
    allow_email_domains: list[str] = Field(default_factory=list, description="People by email domain.")
    allow_group_ids: list[str] = Field(default_factory=list, description="People by Access group id.")
    service_tokens: list[str] = Field(
        default_factory=list, description="Machines: one service token is created per name.")

    @model_validator(mode="after")
    def _someone(self) -> "AccessConfig":
        if not (self.allow_email_domains or self.allow_group_ids or self.service_tokens):
            raise ValueError("Access must allow someone: set allowEmailDomains, allowGroupIds or serviceTokens")
        return self


class TunnelConfig(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", description="Base tunnel name; the environment is appended.")
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
        return self


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


class AlertRoute(ConfigModel):
    name: str
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
        names = [c.name for c in self.health_checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"health-check names must be unique, repeated: {repeated}")
        return self


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
