"""The zone's firewall: Cloudflare's managed WAF rulesets on, and rate limits on the auth endpoints.

Rulesets are zone entry points: one `Ruleset` per (zone, phase), rules inside.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import REQUIRE_ZONE_SCHEMA, ReportViolation, Rule, each_resource, items
from ._zones import managed_zones, zone_rulesets

CLOUDFLARE_MANAGED = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE = "4814384a9e5d4991b9815dcfc25d2f1f"
ENFORCING_ACTIONS = ("block", "challenge", "js_challenge", "managed_challenge")


def _managed_waf(args: Any, report: ReportViolation) -> None:
    required = list(args.get_config().get("requiredManagedRulesets") or [CLOUDFLARE_MANAGED])
    for zone in managed_zones(args, report, "the managed WAF rulesets"):
        rulesets = zone_rulesets(args, zone, "http_request_firewall_managed")
        running: set[str] = set()
        for ruleset in rulesets:
            with each_resource(report, ruleset.urn):
                for rule in items(ruleset.props.get("rules")):
                    params = rule.get("actionParameters") or {}
                    overrides = params.get("overrides") or {}
                    if rule.get("action") != "execute" or rule.get("enabled") is False:
                        continue
                    if overrides.get("enabled") is False:
                        report(f"Ruleset {ruleset.name} executes managed ruleset {params.get('id')} with "
                               "overrides.enabled false, which turns all its rules off", ruleset.urn)
                        continue
                    running.add(params.get("id"))
        for ruleset_id in required:
            if ruleset_id not in running:
                where = f"Ruleset {rulesets[0].name}" if rulesets else "no http_request_firewall_managed ruleset"
                report(f"zone {zone}: managed ruleset {ruleset_id} is not executed and enabled ({where}); "
                       "add it to edgeSecurity.managedRulesets", rulesets[0].urn if rulesets else None)


def _per_minute(rule: Any) -> float | None:
    limit = rule.get("ratelimit") or {}
    requests, period = limit.get("requestsPerPeriod"), limit.get("period")
    if not isinstance(requests, (int, float)) or not isinstance(period, (int, float)) or period <= 0:
        return None
    return requests * 60.0 / period


def _auth_rate_limits(args: Any, report: ReportViolation) -> None:
    cfg = args.get_config()
    prefixes = list(cfg.get("authPathPrefixes") or ["/api/auth/"])
    ceiling = cfg.get("maxRequestsPerMinute", 100)
    for zone in managed_zones(args, report, "rate limits"):
        rulesets = zone_rulesets(args, zone, "http_ratelimit")
        for prefix in prefixes:
            covering, problems = [], []
            for ruleset in rulesets:
                with each_resource(report, ruleset.urn):
                    for rule in items(ruleset.props.get("rules")):
                        if prefix not in str(rule.get("expression") or "") or rule.get("enabled") is False:
                            continue
                        name = rule.get("ref") or rule.get("description") or "rule"
                        characteristics = items((rule.get("ratelimit") or {}).get("characteristics"))
                        rate = _per_minute(rule)
                        if rule.get("action") not in ENFORCING_ACTIONS:
                            problems.append(f"{name}: action {rule.get('action')!r} does not stop clients")
                        elif "ip.src" not in characteristics or "cf.colo.id" not in characteristics:
                            problems.append(f"{name}: counts per {list(characteristics)}, not per client "
                                            "(needs cf.colo.id and ip.src)")
                        elif rate is None or rate > ceiling:
                            problems.append(f"{name}: allows {rate} requests/minute, above {ceiling}")
                        else:
                            covering.append(name)
            if not covering:
                detail = "; ".join(problems) or "no rule's expression matches it"
                report(f"zone {zone}: no enabled http_ratelimit rule limits {prefix} per client ({detail}); "
                       "add one to edgeSecurity.rateLimits", rulesets[0].urn if rulesets else None)


_ZONE = {"requireManagedZone": REQUIRE_ZONE_SCHEMA}

RULES = [
    Rule(
        id="CF-WAF-001", name="zone-managed-waf-on", scope="stack",
        config={**_ZONE, "requiredManagedRulesets": {
            "type": "array", "items": {"type": "string"}, "default": [CLOUDFLARE_MANAGED],
            "description": "Managed ruleset ids that must be executed and enabled on every managed zone."}},
        title="Cloudflare's managed WAF rulesets run, enabled, on every managed zone.",
        severity=Severity.CRITICAL,
        checklist="WAF Rules Implementation > Standard Security Rules > SQL injection protection enabled",
        remediation="List the Cloudflare Managed Ruleset (efb7b8c9...) and the OWASP Core Ruleset (4814384a...) "
                    "in edgeSecurity.managedRulesets; never disable them with overrides.enabled: false.",
        check=_managed_waf,
    ),
    Rule(
        id="CF-RL-001", name="auth-endpoints-rate-limited", scope="stack",
        config={**_ZONE,
                "authPathPrefixes": {"type": "array", "items": {"type": "string"}, "default": ["/api/auth/"],
                                     "description": "Path prefixes of the authentication endpoints."},
                "maxRequestsPerMinute": {"type": "number", "default": 100,
                                         "description": "Highest rate per client allowed on an auth endpoint."}},
        title="Rate-limit rules cover the authentication endpoints, per client.",
        severity=Severity.HIGH,
        checklist="WAF Rules Implementation > Rate Limiting Configuration > Endpoint-specific rate limits configured",
        remediation="Add an edgeSecurity.rateLimits entry whose expression matches /api/auth/, counted per "
                    "cf.colo.id and ip.src, with action block or a challenge, at most 100 requests per minute.",
        check=_auth_rate_limits,
    ),
]
