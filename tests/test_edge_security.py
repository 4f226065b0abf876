"""EdgeSecurity: zone settings, DNSSEC and ruleset phase entry points, owned by production alone."""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.plan.mocks import zone_id_for
from tests.conftest import resources, stack_file_config, config_problems

PREFIX = "chittyos-edge:"
SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
RULESET = "cloudflare:index/ruleset:Ruleset"
DNSSEC = "cloudflare:index/zoneDnssec:ZoneDnssec"
ZONE_SINGLETONS = (SETTING, RULESET, DNSSEC)
PHASES = {"http_request_firewall_custom", "http_request_firewall_managed", "http_ratelimit",
          "http_request_cache_settings", "http_response_headers_transform"}


def settings_of(plan) -> dict:
    return {r["inputs"]["settingId"]: r["inputs"]["value"] for r in resources(plan, SETTING)}


def ruleset(plan, phase: str) -> dict:
    found = [r for r in resources(plan, RULESET) if r["inputs"]["phase"] == phase]
    assert len(found) == 1, f"expected one {phase} entry point, found {len(found)}"
    return found[0]["inputs"]


def rules_by_ref(plan, phase: str) -> dict[str, dict]:
    return {rule["ref"]: rule for rule in ruleset(plan, phase)["rules"]}


def test_tls_and_https_settings_are_the_seeds(production):
    settings = settings_of(production)
    assert settings["ssl"] == "strict"
    assert settings["min_tls_version"] == "1.3"
    assert settings["tls_1_3"] == "on"
    assert settings["always_use_https"] == "on"
    assert settings["automatic_https_rewrites"] == "on"
    assert settings["http3"] == "on"
    # HSTS: one year, subdomains, preload, sent with the API's snake_case keys.
    assert settings["security_header"] == {"strict_transport_security": {
        "enabled": True, "max_age": 31536000, "include_subdomains": True, "preload": True, "nosniff": True}}
    for setting in resources(production, SETTING):
        assert setting["inputs"]["zoneId"] == zone_id_for("chitty.cc")


def test_dnssec_is_active(production):
    (dnssec,) = resources(production, DNSSEC)
    assert dnssec["inputs"] == {"status": "active", "zoneId": zone_id_for("chitty.cc")}


def test_one_zone_entry_point_per_phase_and_every_rule_has_a_stable_ref(production):
    rulesets = [r["inputs"] for r in resources(production, RULESET)]
    assert sorted(r["phase"] for r in rulesets) == sorted(PHASES)
    refs = []
    for rs in rulesets:
        assert rs["kind"] == "zone"
        assert rs["zoneId"] == zone_id_for("chitty.cc")
        for rule in rs["rules"]:
            assert rule.get("ref"), f"{rs['phase']} rule {rule.get('description')!r} has no ref"
            refs.append(rule["ref"])
    assert len(refs) == len(set(refs))


def test_waf_custom_rules_are_the_seeds(production):
    declared = stack_file_config("production")[f"{PREFIX}edgeSecurity"]["wafCustomRules"]
    rules = rules_by_ref(production, "http_request_firewall_custom")
    assert set(rules) == {"ai_platform_verification", "session_integrity", "sync_security"}
    for rule in declared:
        assert rules[rule["ref"]]["action"] == rule["action"]
        assert rules[rule["ref"]]["expression"] == rule["expression"]
    assert rules["session_integrity"]["action"] == "block"
    assert rules["sync_security"]["action"] == "js_challenge"


def test_managed_rulesets_execute_with_disabled_paranoia_levels(production):
    rules = rules_by_ref(production, "http_request_firewall_managed")
    assert rules["cloudflare_managed"]["action"] == "execute"
    assert rules["cloudflare_managed"]["actionParameters"] == {"id": "efb7b8c949ac4650a09736fc376e9aee"}
    owasp = rules["owasp_core"]["actionParameters"]
    assert owasp["id"] == "4814384a9e5d4991b9815dcfc25d2f1f"
    assert owasp["overrides"]["categories"] == [{"category": "paranoia-level-3", "enabled": False},
                                                {"category": "paranoia-level-4", "enabled": False}]


def test_rate_limits_per_endpoint(production):
    rules = rules_by_ref(production, "http_ratelimit")
    expected = {"auth_endpoints": 60, "project_suggestions": 300, "sessions_api": 500,
                "websocket_connections": 25, "api_global": 2000}
    assert {ref: rule["ratelimit"]["requestsPerPeriod"] for ref, rule in rules.items()} == expected
    for rule in rules.values():
        assert rule["ratelimit"]["period"] == 60
        assert "cf.colo.id" in rule["ratelimit"]["characteristics"]
    assert 'not http.cookie contains "verified_session"' in rules["auth_endpoints"]["expression"]
    assert rules["websocket_connections"]["expression"] == '(http.request.uri.path eq "/ws")'


def test_cache_rules(production):
    rules = rules_by_ref(production, "http_request_cache_settings")
    for rule in rules.values():
        assert rule["action"] == "set_cache_settings"
    static = rules["static_assets"]["actionParameters"]
    assert static["edgeTtl"] == {"mode": "override_origin", "default": 31536000}
    assert static["browserTtl"] == {"mode": "override_origin", "default": 31536000}
    suggestions = rules["project_suggestions_cache"]["actionParameters"]
    assert (suggestions["edgeTtl"]["default"], suggestions["browserTtl"]["default"]) == (900, 300)
    assert suggestions["cacheKey"] == {"customKey": {"queryString": {"include": {
        "lists": ["working_directory", "platform", "git_branch"]}}}}
    sessions = rules["sessions_cache"]["actionParameters"]
    assert (sessions["edgeTtl"]["default"], sessions["browserTtl"]["default"]) == (300, 60)
    assert rules["websocket_bypass"]["actionParameters"] == {"cache": False}


def test_security_headers_are_set_on_every_response(production):
    (rule,) = ruleset(production, "http_response_headers_transform")["rules"]
    assert (rule["ref"], rule["action"], rule["expression"]) == ("security_headers", "rewrite", "true")
    headers = rule["actionParameters"]["headers"]
    declared = stack_file_config("production")[f"{PREFIX}edgeSecurity"]["securityHeaders"]
    assert headers == {
        "Content-Security-Policy": {"operation": "set", "value": declared["contentSecurityPolicy"]},
        "X-Frame-Options": {"operation": "set", "value": "DENY"},
        "X-Content-Type-Options": {"operation": "set", "value": "nosniff"},
        "Referrer-Policy": {"operation": "set", "value": "strict-origin-when-cross-origin"},
    }


def test_staging_registers_no_zone_singleton(staging):
    for type_token in ZONE_SINGLETONS:
        assert resources(staging, type_token) == [], f"staging registers {type_token}"


def test_no_zone_setting_or_phase_is_declared_by_both_stacks(plans):
    def owned(plan):
        return ({("setting", r["inputs"]["settingId"]) for r in resources(plan, SETTING)}
                | {("phase", r["inputs"]["phase"]) for r in resources(plan, RULESET)}
                | {("dnssec", r["inputs"]["zoneId"]) for r in resources(plan, DNSSEC)})
    assert owned(plans["production"])  # production does own them
    assert owned(plans["production"]) & owned(plans["staging"]) == set()


# ---- config rules (no Pulumi runtime) ---------------------------------------------------------

problems = config_problems


def test_staging_may_not_declare_edge_security():
    def add(c):
        c[f"{PREFIX}edgeSecurity"] = stack_file_config("production")[f"{PREFIX}edgeSecurity"]
    (problem,) = problems("staging", add)
    assert "edgeSecurity" in problem and "production" in problem and "remove it" in problem


def test_rate_limit_without_colo_is_refused():
    def bad(c):
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][0]["characteristics"] = ["ip.src"]
    (problem,) = problems("production", bad)
    assert "chittyos-edge:edgeSecurity.rateLimits[0].characteristics" in problem and "cf.colo.id" in problem


def test_repeated_or_reserved_refs_are_refused():
    def repeated(c):
        c[f"{PREFIX}edgeSecurity"]["cacheRules"][0]["ref"] = "auth_endpoints"
    assert "auth_endpoints" in problems("production", repeated)[0]

    def reserved(c):
        c[f"{PREFIX}edgeSecurity"]["cacheRules"][0]["ref"] = "security_headers"
    assert "reserved" in problems("production", reserved)[0]
