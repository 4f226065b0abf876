"""EdgeSecurity: the zone-wide security singletons of the zone (production stack only).

Creates one `ZoneSetting` per TLS/HTTPS setting (SSL mode, minimum TLS version, TLS 1.3, always-use-HTTPS,
automatic HTTPS rewrites, HTTP/3, HSTS), `ZoneDnssec`, and ONE `Ruleset` per phase entry point that has
rules: custom WAF rules, managed WAF rulesets, rate limits, cache rules and the security response headers.
Every rule is limited to the sites of the services its `services` and `environments` name (production's,
and staging's when listed), so other services of the zone are untouched: their hostnames, and for a Worker
route `host/prefix/*` that host under the prefix, where the rule's path tests are moved under the prefix
(`rules_language.scoped`), so a limit on `/api/auth/` also holds on `host/prefix/api/auth/`. A rule whose
expression would then be over Cloudflare's 4,096 characters is deployed as `<ref>`, `<ref>_2`, ... on
disjoint runs of its sites (`config.edge.deployed_rules`); rate limits are never split (config refuses them).

Ownership: a zone has one entry point per phase, and this component owns each whole entry point. Rules
added by hand in the dashboard to one of these phases are replaced on the next `pulumi up` that writes the
phase (every `pulumi up --refresh`, or any change to its rules); add them to the stack file instead. An entry point that already exists is adopted with `pulumi import` (see README,
"Edge components"). Every rule carries a stable `ref`, so editing a rule updates it in place and keeps
its analytics history instead of deleting and recreating it.

Operational costs: `minTlsVersion: "1.3"` refuses clients (and health checkers) that only speak TLS 1.2;
HSTS with `preload` and a one-year max-age cannot be undone quickly (browsers remember it for a year);
what each rule needs of the zone's plan is checked against `zone.plan` before anything runs
(chittyos_edge/config/plans.py); removing a rule from the stack file removes it from the zone.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge.config.edge import (BURST_PERIOD, CacheRule, DeployedRule, EdgeSecurityConfig, ManagedRuleset,
                                       RateLimitRule, Scoped, SecurityHeaders, ServedHostnames, WafRule,
                                       deployed_rules)

from .base import Component

PHASE_NAMES = {
    "http_request_firewall_custom": "WAF custom rules",
    "http_request_firewall_managed": "WAF managed rulesets",
    "http_ratelimit": "Rate limiting rules",
    "http_request_cache_settings": "Cache rules",
    "http_response_headers_transform": "Security response headers",
}
PHASE_ROLES = {
    "http_request_firewall_custom": "waf-custom",
    "http_request_firewall_managed": "waf-managed",
    "http_ratelimit": "rate-limits",
    "http_request_cache_settings": "cache-rules",
    "http_response_headers_transform": "security-headers",
}


def _on(flag: bool) -> str:
    return "on" if flag else "off"


Deploy = Callable[[Scoped], list[DeployedRule]]


def deploy_for(served: ServedHostnames) -> Deploy:
    """`deploy(rule)`: the rules it becomes on the sites its scope names (`deployed_rules`: path tests
    moved under each Worker route's prefix, split across hostnames where one expression would be too long;
    config validation refused what cannot be deployed)."""
    return lambda rule: deployed_rules(rule, served)


def _parts(rule: Scoped, description: str, deploy: Deploy, **fields: Any) -> list[dict[str, Any]]:
    """One rule per part the rule is deployed as; parts after the first say which they are."""
    return [{"ref": part.ref, "description": description if n == 1 else f"{description} (part {n})",
             "expression": part.expression, **fields}
            for n, part in enumerate(deploy(rule), 1)]


def waf_rule(rule: WafRule, deploy: Deploy) -> list[dict[str, Any]]:
    return _parts(rule, rule.description, deploy, action=rule.action.value, enabled=rule.enabled)


def managed_rule(rule: ManagedRuleset, deploy: Deploy) -> list[dict[str, Any]]:
    parameters: dict[str, Any] = {"id": rule.ruleset_id}
    if rule.disabled_categories:
        parameters["overrides"] = {"categories": [{"category": category, "enabled": False}
                                                  for category in rule.disabled_categories]}
    return _parts(rule, rule.description, deploy, action="execute", action_parameters=parameters, enabled=True)


def rate_limit_rule(rule: RateLimitRule, deploy: Deploy) -> list[dict[str, Any]]:
    """The rule, then its burst companion: same match, counted over BURST_PERIOD seconds (never split)."""
    (deployed,) = deploy(rule)
    built = []
    for ref, period, requests in rule.edge_rules():
        description = rule.description if ref == rule.ref else (
            f"{rule.description} (burst: {requests} per {BURST_PERIOD} s)")
        built.append({"ref": ref, "description": description, "expression": deployed.expression,
                      "action": rule.action.value, "enabled": True,
                      "ratelimit": {"characteristics": list(rule.characteristics), "period": period,
                                    "requests_per_period": requests, "mitigation_timeout": rule.timeout}})
    return built


def cache_rule(rule: CacheRule, deploy: Deploy) -> list[dict[str, Any]]:
    parameters: dict[str, Any] = {"cache": rule.cache}
    if rule.cache:
        if rule.edge_ttl_seconds is not None:
            parameters["edge_ttl"] = {"mode": "override_origin", "default": rule.edge_ttl_seconds}
        if rule.browser_ttl_seconds is not None:
            parameters["browser_ttl"] = {"mode": "override_origin", "default": rule.browser_ttl_seconds}
        if rule.cache_key_query_params:
            parameters["cache_key"] = {"custom_key": {"query_string": {
                "include": {"lists": list(rule.cache_key_query_params)}}}}
    return _parts(rule, rule.description, deploy, action="set_cache_settings", action_parameters=parameters,
                  enabled=True)


def security_headers_rule(headers: SecurityHeaders, deploy: Deploy) -> list[dict[str, Any]]:
    values = {
        "Content-Security-Policy": headers.content_security_policy,
        "X-Frame-Options": headers.x_frame_options,
        "X-Content-Type-Options": headers.x_content_type_options,
        "Referrer-Policy": headers.referrer_policy,
    }
    return _parts(headers, "Security headers on every response of these hostnames", deploy, action="rewrite",
                  enabled=True, action_parameters={"headers": {name: {"operation": "set", "value": value}
                                                               for name, value in values.items()}})


RULE_BUILDERS = {
    "http_request_firewall_custom": waf_rule,
    "http_request_firewall_managed": managed_rule,
    "http_ratelimit": rate_limit_rule,
    "http_request_cache_settings": cache_rule,
    "http_response_headers_transform": security_headers_rule,
}


class EdgeSecurity(Component):
    """Zone settings, DNSSEC and the ruleset phase entry points of one zone."""

    def __init__(self, name: str, *, zone_id: pulumi.Input[str], zone_name: str, security: EdgeSecurityConfig,
                 served: ServedHostnames, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("edge_security", name, opts)
        tls = security.tls
        hsts = tls.hsts
        settings: dict[str, Any] = {
            "ssl": tls.ssl_mode,
            "min_tls_version": tls.min_tls_version,
            "tls_1_3": tls.tls_1_3,
            "always_use_https": _on(tls.always_use_https),
            "automatic_https_rewrites": _on(tls.automatic_https_rewrites),
            "http3": _on(tls.http3),
            # Sent verbatim: the API's snake_case keys (camelCase would diff on every preview).
            "security_header": {"strict_transport_security": {
                "enabled": hsts.max_age > 0, "max_age": hsts.max_age,
                "include_subdomains": hsts.include_subdomains, "preload": hsts.preload,
                "nosniff": hsts.nosniff}},
        }
        self.zone_settings: dict[str, cloudflare.ZoneSetting] = {
            setting_id: cloudflare.ZoneSetting(
                self.child_name(f"setting-{setting_id.replace('_', '-')}"), zone_id=zone_id,
                setting_id=setting_id, value=value, opts=self.child_opts())
            for setting_id, value in settings.items()
        }

        self.dnssec: cloudflare.ZoneDnssec | None = None
        if tls.dnssec:
            self.dnssec = cloudflare.ZoneDnssec(
                self.child_name("dnssec"), zone_id=zone_id, status="active", opts=self.child_opts())

        self.rulesets: dict[str, cloudflare.Ruleset] = {}
        deploy = deploy_for(served)
        for phase, rules in security.phases().items():
            build = RULE_BUILDERS[phase]
            self.rulesets[phase] = cloudflare.Ruleset(
                self.child_name(PHASE_ROLES[phase]), zone_id=zone_id, kind="zone", phase=phase,
                name=f"{PHASE_NAMES[phase]} ({zone_name})",
                description="Managed by chittyos-edge (production stack): rules added by hand are replaced",
                rules=[built for rule in rules for built in build(rule, deploy)],
                opts=self.child_opts())

        self.register_outputs({
            "zoneSettings": sorted(self.zone_settings),
            "phases": sorted(self.rulesets),
        })
