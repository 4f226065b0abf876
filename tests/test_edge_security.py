"""EdgeSecurity: zone settings, DNSSEC and ruleset phase entry points, owned by production alone."""

from __future__ import annotations

import re

import pytest

from chittyos_edge import rules_language
from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.plan.mocks import zone_id_for
from tests.conftest import LONG_HOSTS, LONG_ROUTES, config_problems, many_hostnames, resources, stack_file_config

PREFIX = "chittyos-edge:"
SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
RULESET = "cloudflare:index/ruleset:Ruleset"
DNSSEC = "cloudflare:index/zoneDnssec:ZoneDnssec"
ZONE_SINGLETONS = (SETTING, RULESET, DNSSEC)
PHASES = {"http_request_firewall_custom", "http_request_firewall_managed", "http_ratelimit",
          "http_response_headers_transform"}


def settings_of(plan) -> dict:
    return {r["inputs"]["settingId"]: r["inputs"]["value"] for r in resources(plan, SETTING)}


def ruleset(plan, phase: str) -> dict:
    found = [r for r in resources(plan, RULESET) if r["inputs"]["phase"] == phase]
    assert len(found) == 1, f"expected one {phase} entry point, found {len(found)}"
    return found[0]["inputs"]


def rules_by_ref(plan, phase: str) -> dict[str, dict]:
    return {rule["ref"]: rule for rule in ruleset(plan, phase)["rules"]}


def test_tls_and_https_settings_are_the_documents(production):
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


# ---- scope: the rules reach only the hostnames the stacks serve ---------------------------------

def all_rules(plan) -> list[dict]:
    return [rule for r in resources(plan, RULESET) for rule in r["inputs"]["rules"]]


def battery(host: str, prefix: str = "") -> list[dict]:
    """Requests crafted to satisfy the non-host part of every production rule."""
    requests = []
    for path in ("/", "/api/auth/login", "/api/sessions/abc", "/api/projects/sync", "/api/projects/suggestions",
                 "/ws", "/static/app.js", "/health"):
        for method in ("GET", "POST"):
            requests.append({
                "http.host": host, "http.request.uri.path": prefix + path, "http.request.method": method,
                "http.user_agent": "curl/8.5.0", "cf.waf.score.class": "attack",
                "http.request.headers": {"origin": ["https://evil.example"]},
            })
    return requests


def matching(rule: dict, requests: list[dict]) -> list[dict]:
    return [r for r in requests if rules_language.evaluate(rule["expression"], r)]


OTHER_HOSTS = [battery("www.chitty.cc"), battery("id.chitty.cc"), battery("chitty.cc"),
               battery("registry.chitty.cc"), battery("api.chitty.cc"), battery("api.chitty.cc", "/other-team")]


def test_another_chitty_cc_host_matches_no_production_rule(production):
    rules = all_rules(production)
    assert rules
    for rule in rules:
        for requests in OTHER_HOSTS:
            hits = matching(rule, requests)
            assert not hits, f"{rule['ref']} matches {hits[0]['http.host']}{hits[0]['http.request.uri.path']}"


def test_every_production_rule_matches_on_the_hostnames_it_serves(production):
    # The control for the test above: the same requests on the services' own hostnames do match.
    served = battery("project-awareness.chitty.cc") + battery("api.chitty.cc", "/project-awareness")
    for rule in all_rules(production):
        assert matching(rule, served), f"{rule['ref']} matches none of the served requests"


def test_rules_are_scoped_per_service_and_environment(production):
    host = lambda h: {**battery(h)[2], "http.request.uri.path": "/api/sessions/abc"}  # noqa: E731
    rules = {rule["ref"]: rule for rule in all_rules(production)}
    staging_pa = host("project-awareness-staging.chitty.cc")
    # WAF rules and managed rulesets also protect staging; rate limits do not (staging is load-tested).
    assert rules_language.evaluate(rules["session_integrity"]["expression"], staging_pa)
    assert rules_language.evaluate(rules["owasp_core"]["expression"], host("connect-staging.chitty.cc"))
    assert not rules_language.evaluate(rules["api_abuse_protection"]["expression"], staging_pa)
    # Project Awareness rules never reach ChittyConnect's API.
    connect = {**host("connect.chitty.cc"), "http.request.uri.path": "/api/v1/sessions/x"}
    for ref in ("session_integrity", "ai_platform_verification", "api_abuse_protection", "auth_endpoints"):
        assert not rules_language.evaluate(rules[ref]["expression"], connect), ref


# ---- every site a rule covers sees it as the service root does -----------------------------------

ROUTE = ("api.chitty.cc", "/project-awareness")  # the Worker route api.chitty.cc/project-awareness/*


def verdicts(plan, host: str, path: str, **request) -> dict[str, bool]:
    base = {"http.host": host, "http.request.uri.path": path, "http.request.method": "POST",
            "http.user_agent": "curl/8.5.0", **request}
    return {rule["ref"]: rules_language.evaluate(rule["expression"], base) for rule in all_rules(plan)}


def test_the_route_is_limited_exactly_as_the_custom_domain(production):
    host, prefix = ROUTE
    root = verdicts(production, "project-awareness.chitty.cc", "/api/auth/login")
    assert root["auth_endpoints"] and root["auth_endpoints_burst"] and root["api_abuse_protection"]
    assert verdicts(production, host, prefix + "/api/auth/login") == root
    ws = verdicts(production, "project-awareness.chitty.cc", "/ws")
    assert verdicts(production, host, prefix + "/ws") == ws
    assert not ws["auth_endpoints"] and ws["cloudflare_managed"]
    # the rest of api.chitty.cc belongs to other teams: none of these rules reaches it
    assert not any(verdicts(production, host, "/other/api/auth/login").values())
    assert not any(verdicts(production, host, "/api/auth/login").values())
    assert not any(verdicts(production, host, "/project-awarenessx/api/auth/login").values())


def served_sites() -> dict:
    from chittyos_edge.ops.stack import settings_of
    from chittyos_edge.program import served_hostnames
    from tests.conftest import PROJECT

    settings = settings_of("production", PROJECT)
    return settings.edge_security, served_hostnames(settings, PROJECT)


def representative_requests() -> list[dict]:
    """Paths on both sides of every production rule's path tests, with and without what the rules
    look for in methods, user agents, headers and scores."""
    paths = ("/", "/api", "/api/", "/apix/auth/", "/api/auth/login", "/api/auth", "/api/sessions/abc",
             "/sessions/", "/x/sessions/y", "/api/projects/sync", "/api/projects/sync/", "/api/projects/suggestions",
             "/ws", "/ws/x", "/static/app.js", "/health")
    variants = (
        {"http.request.method": "POST", "http.user_agent": "curl/8.5.0", "cf.waf.score.class": "attack",
         "http.request.headers": {"origin": ["https://evil.example"]}},
        {"http.request.method": "POST", "http.user_agent": "Claude-User/1.0", "cf.waf.score.class": "attack",
         "http.request.headers": {"origin": ["https://claude.ai"], "authorization": ["Bearer t"]}},
        {"http.request.method": "GET", "http.user_agent": "openai-python/1.40", "cf.waf.score.class": "clean"},
    )
    return [{"http.request.uri.path": path, **variant} for path in paths for variant in variants]


def test_every_rule_gives_the_service_roots_verdict_on_every_site_it_covers(production):
    from chittyos_edge.config.edge import rule_sites

    security, served = served_sites()
    scoped = {rule.ref: rule for rule in [*security.waf_custom_rules, *security.managed_rulesets,
                                          *security.rate_limits]}
    scoped["security_headers"] = security.security_headers
    requests = representative_requests()
    routes_seen = 0
    for rule in all_rules(production):
        sites = rule_sites(scoped[rule["ref"].removesuffix("_burst")], served)
        roots = [site for site in sites if "/" not in site]
        assert roots, rule["ref"]

        def on(host: str, prefix: str = "") -> list[bool]:
            return [rules_language.evaluate(rule["expression"], {
                **request, "http.host": host, "http.request.uri.path": prefix + request["http.request.uri.path"]})
                for request in requests]

        expected = on(roots[0])
        assert any(expected), f"{rule['ref']} matches none of the requests: the comparison proves nothing"
        for site in sites:
            host, _, rest = site.partition("/")
            prefix = "/" + rest.rstrip("/") if rest else ""
            routes_seen += bool(prefix)
            assert on(host, prefix) == expected, f"{rule['ref']} on {site} differs from {roots[0]}"
    assert routes_seen >= len(all_rules(production))  # every rule covers the route


def test_a_path_test_that_cannot_be_moved_under_the_route_is_a_config_error():
    def spans_the_join(c):
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][2]["expression"] = 'http.request.uri.path contains "s/api/auth"'
    (problem,) = problems("production", spans_the_join)
    assert "edgeSecurity.rateLimits[2].expression" in problem and "(auth_endpoints)" in problem
    assert "api.chitty.cc/project-awareness/*" in problem and "starts_with()" in problem

    def unanchored(c):
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][1]["expression"] = 'http.request.uri.path matches "/api/projects/sync$"'
    (problem,) = problems("production", unanchored)
    assert "edgeSecurity.wafCustomRules[1].expression" in problem and "anchor" in problem

    def anchored(c):  # the Business plan has regular expressions; an anchored one moves under the prefix
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][1]["expression"] = 'http.request.uri.path matches "^/api/projects/sync$"'
    config = stack_file_config("production")
    anchored(config)
    parse_stack_config({k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)}, "Pulumi.production.yaml")


def test_staging_routes_a_rule_covers_are_checked_too(tmp_path, capsys):
    """Staging's sites are read from Pulumi.staging.yaml at plan time: a path test that moves soundly
    under production's route but not under staging's is refused, naming staging's route."""
    import yaml

    from chittyos_edge import cli

    from conftest import copy_project

    copy = copy_project(tmp_path / "copy")
    staging_file, production_file = copy.stack_file("staging"), copy.stack_file("production")
    staging = yaml.safe_load(staging_file.read_text())
    staging["config"][f"{PREFIX}services"]["project-awareness"]["routes"] = ["project-awareness-staging.chitty.cc/pa/*"]
    staging_file.write_text(yaml.safe_dump(staging))
    production = yaml.safe_load(production_file.read_text())
    rule = production["config"][f"{PREFIX}edgeSecurity"]["wafCustomRules"][0]
    assert rule["ref"] == "session_integrity" and "staging" in rule["environments"]
    rule["expression"] = 'http.request.uri.path contains "a/api/sessions/"'  # "/pa" + "/api/sessions/..."
    production_file.write_text(yaml.safe_dump(production))
    assert cli.main(["-C", str(copy.root), "plan", "--stack", "production"]) == 2
    err = capsys.readouterr().err
    assert "edgeSecurity.wafCustomRules[0]" in err and "project-awareness-staging.chitty.cc/pa/*" in err
    assert "project-awareness/*" not in err and "Traceback" not in err


def test_a_rate_limit_too_long_once_deployed_is_a_config_error_not_split():
    def long(c):
        paths = " ".join(f'"/api/endpoint-number-{i}/"' for i in range(90))
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][2]["expression"] = f"http.request.uri.path in {{{paths}}}"
    (problem,) = problems("production", long)
    assert "edgeSecurity.rateLimits[2].expression" in problem and "4096" in problem and "not split" in problem

    def over_many_hostnames(c):  # the headers, managed and WAF rules on these sites split; a rate limit does not
        many_hostnames(c)
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][1]["services"] = ["project-awareness", "chittyconnect"]
    (problem,) = problems("production", over_many_hostnames)
    assert "edgeSecurity.rateLimits[1].expression: (api_abuse_protection)" in problem and "not split" in problem


def test_one_site_too_long_alone_is_a_config_error():
    def long(c):  # under the route's prefix the 90 paths alone are over the length
        paths = " ".join(f'"/api/endpoint-number-{i}/"' for i in range(90))
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][1]["expression"] = f"http.request.uri.path in {{{paths}}}"
    (problem,) = problems("production", long)
    assert "edgeSecurity.wafCustomRules[1].expression: (sync_security)" in problem
    assert "on api.chitty.cc/project-awareness/ alone" in problem and "4096" in problem


def split_sites() -> tuple:
    """The rules and sites of the production stack grown by `many_hostnames`."""
    from chittyos_edge.program import served_hostnames
    from tests.conftest import PROJECT

    config = stack_file_config("production")
    many_hostnames(config)
    settings = parse_stack_config({k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)},
                                  "Pulumi.production.yaml")
    return settings.edge_security, served_hostnames(settings, PROJECT)


def parts_of(plan, phase: str, ref: str) -> list[dict]:
    return [rule for rule in ruleset(plan, phase)["rules"]
            if rule["ref"] == ref or re.fullmatch(rf"{ref}_\d+", rule["ref"])]


def test_a_rule_too_long_for_one_expression_is_deployed_in_parts_covering_exactly_its_sites(many_hostnames_plan,
                                                                                              production):
    from chittyos_edge.config.edge import rule_sites

    security, served = split_sites()
    rules = [("http_response_headers_transform", security.security_headers, "/"),
             *(("http_request_firewall_managed", rule, "/") for rule in security.managed_rulesets),
             ("http_request_firewall_custom", security.waf_custom_rules[-1], "/v1/items")]
    assert security.waf_custom_rules[-1].ref == "connect_writes"
    foreign = [("www.chitty.cc", "/v1/items"), ("api.chitty.cc", "/v1/items"), ("api.chitty.cc", "/other/v1/items"),
               ("id.chitty.cc", "/")]
    for phase, rule, path in rules:
        parts = parts_of(many_hostnames_plan, phase, rule.ref)
        assert [p["ref"] for p in parts] == [rule.ref] + [f"{rule.ref}_{n}" for n in range(2, len(parts) + 1)]
        assert len(parts) >= 2 and all(len(p["expression"]) <= rules_language.MAX_EXPRESSION_LENGTH for p in parts)
        same = [{k: v for k, v in p.items() if k not in ("ref", "description", "expression")} for p in parts]
        assert all(s == same[0] for s in same), f"{rule.ref}: the parts differ in more than their sites"
        sites = rule_sites(rule, served)
        assert len(sites) >= len(LONG_HOSTS) + len(LONG_ROUTES)
        for site in sites:
            host, _, rest = site.partition("/")
            request = {"http.host": host, "http.request.uri.path": ("/" + rest).rstrip("/") + path,
                       "http.request.method": "PUT"}
            hits = [p["ref"] for p in parts if rules_language.evaluate(p["expression"], request)]
            assert len(hits) == 1, f"{rule.ref} on {site}: matched by {hits}"
        for host, path_there in foreign:
            request = {"http.host": host, "http.request.uri.path": path_there, "http.request.method": "PUT"}
            assert not any(rules_language.evaluate(p["expression"], request) for p in parts), f"{rule.ref} on {host}"
    # the rules that fit are one rule each, as before
    assert [r["ref"] for r in ruleset(many_hostnames_plan, "http_ratelimit")["rules"]] == [
        r["ref"] for r in ruleset(production, "http_ratelimit")["rules"]]


def test_split_parts_count_against_the_plan_and_their_refs_are_unique():
    from chittyos_edge.config.edge import deployed_problems
    from chittyos_edge.config.plans import ZonePlan

    security, served = split_sites()
    assert deployed_problems(security, served, ZonePlan.BUSINESS) == []
    connect = security.waf_custom_rules[-1]

    def with_rule(**changes):
        added = connect.model_copy(update=changes)
        return security.model_copy(update={"waf_custom_rules": [*security.waf_custom_rules, added]})

    # Free allows 5 WAF custom rules: 4 declared, deployed as 2 + 3 + 3
    (problem,) = deployed_problems(with_rule(ref="connect_deletes"), served, ZonePlan.FREE)
    assert problem.startswith("edgeSecurity.wafCustomRules: 8 WAF custom rules as deployed (4 declared")
    assert "connect_writes into 3, connect_deletes into 3" in problem and "Free plan" in problem
    assert "the Pro plan or higher allows 8" in problem
    # a declared ref a part would take
    (problem,) = deployed_problems(with_rule(ref="connect_writes_2"), served, ZonePlan.BUSINESS)
    assert problem.startswith("edgeSecurity.wafCustomRules[2] (connect_writes) part 2: 'connect_writes_2' is already "
                              "used at edgeSecurity.wafCustomRules[3] (connect_writes_2)")
    assert "<ref>_2" in problem and "must be unique" in problem


def test_expressions_never_name_a_hostname_by_hand():
    def hand_written(c):
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][0]["expression"] = '(http.host eq "project-awareness.chitty.cc")'
    (problem,) = problems("production", hand_written)
    assert "edgeSecurity.wafCustomRules[0].expression" in problem and "http.host" in problem


# ---- the report's rules, as the plan allows -----------------------------------------------------

def test_session_integrity_header_test_is_case_insensitive(production):
    rule = rules_by_ref(production, "http_request_firewall_custom")["session_integrity"]
    assert rule["action"] == "block"
    request = {"http.host": "project-awareness.chitty.cc", "http.request.uri.path": "/api/sessions/x",
               "cf.waf.score.class": "attack"}
    assert rules_language.evaluate(rule["expression"], request)
    # Cloudflare lower-cases the keys of http.request.headers, whatever case "Authorization:" was sent in.
    with_header = {**request, "http.request.headers": {"authorization": ["Bearer t"]}}
    assert not rules_language.evaluate(rule["expression"], with_header)
    assert not rules_language.evaluate(rule["expression"], {**request, "cf.waf.score.class": "clean"})
    assert "cf.waf.score " not in rule["expression"]


def test_ai_platform_verification_is_a_rate_rule_for_non_ai_clients(production):
    rules = rules_by_ref(production, "http_ratelimit")
    rule = rules["ai_platform_verification"]
    assert (rule["action"], rule["ratelimit"]["requestsPerPeriod"], rule["ratelimit"]["period"]) == (
        "managed_challenge", 100, 60)
    assert rule["ratelimit"]["mitigationTimeout"] == 0  # a challenge throttles below Enterprise
    base = {"http.host": "project-awareness.chitty.cc", "http.request.uri.path": "/api/projects/suggestions"}
    assert rules_language.evaluate(rule["expression"], {**base, "http.user_agent": "curl/8.5.0"})
    for agent in ("Claude-User/1.0", "Mozilla/5.0 ChatGPT-User/1.0", "openai-python/1.40"):
        assert not rules_language.evaluate(rule["expression"], {**base, "http.user_agent": agent}), agent


def test_rate_limits_with_bursts(production):
    rules = rules_by_ref(production, "http_ratelimit")
    got = {ref: (rule["ratelimit"]["requestsPerPeriod"], rule["ratelimit"]["period"], rule["action"],
                 rule["ratelimit"]["mitigationTimeout"]) for ref, rule in rules.items()}
    assert got == {
        "ai_platform_verification": (100, 60, "managed_challenge", 0),
        "api_abuse_protection": (1000, 60, "managed_challenge", 0),
        # a bucket of 50 refilled at 1000/min lets through at most 50 + 167 in 10 s
        "api_abuse_protection_burst": (217, 10, "managed_challenge", 0),
        "auth_endpoints": (60, 60, "block", 3600),
        "auth_endpoints_burst": (20, 10, "block", 3600),
    }
    for rule in rules.values():
        assert rule["ratelimit"]["characteristics"] == ["cf.colo.id", "ip.src"]


def test_no_cache_rule_targets_a_worker_served_path(production):
    assert [r for r in resources(production, RULESET) if r["inputs"]["phase"] == "http_request_cache_settings"] == []

    def add(c):
        c[f"{PREFIX}edgeSecurity"]["cacheRules"] = [{"ref": "static_assets", "description": "static",
                                                      "expression": 'starts_with(http.request.uri.path, "/static/")',
                                                      "cache": True, "services": ["project-awareness"]}]
    (problem,) = problems("production", add)
    assert "edgeSecurity.cacheRules[0]: (static_assets)" in problem and "answered by a Worker" in problem


def test_the_reports_cache_policy_goes_to_the_worker_and_keys_per_user_data_on_the_user():
    import json
    for stack in ("production", "staging"):
        policy = json.loads(stack_file_config(stack)[f"{PREFIX}services"]["project-awareness"]["vars"]["CACHE_POLICY"])
        assert policy["/api/projects/suggestions"]["edgeTtl"] == 900
        for path, entry in policy.items():
            if entry.get("private"):
                assert "user_id" in entry["key"], f"{stack} {path} is per-user data under a shared key"
        assert policy["/api/sessions/"]["private"] is True


def test_security_headers_are_set_on_the_served_hostnames(production):
    (rule,) = ruleset(production, "http_response_headers_transform")["rules"]
    assert (rule["ref"], rule["action"]) == ("security_headers", "rewrite")
    assert rules_language.evaluate(rule["expression"], {"http.host": "connect.chitty.cc"})
    assert not rules_language.evaluate(rule["expression"], {"http.host": "www.chitty.cc"})
    headers = rule["actionParameters"]["headers"]
    declared = stack_file_config("production")[f"{PREFIX}edgeSecurity"]["securityHeaders"]
    assert headers == {
        "Content-Security-Policy": {"operation": "set", "value": declared["contentSecurityPolicy"]},
        "X-Frame-Options": {"operation": "set", "value": "DENY"},
        "X-Content-Type-Options": {"operation": "set", "value": "nosniff"},
        "Referrer-Policy": {"operation": "set", "value": "strict-origin-when-cross-origin"},
    }


def test_managed_rulesets_execute_with_disabled_paranoia_levels(production):
    rules = rules_by_ref(production, "http_request_firewall_managed")
    assert rules["cloudflare_managed"]["action"] == "execute"
    assert rules["cloudflare_managed"]["actionParameters"] == {"id": "efb7b8c949ac4650a09736fc376e9aee"}
    owasp = rules["owasp_core"]["actionParameters"]
    assert owasp["id"] == "4814384a9e5d4991b9815dcfc25d2f1f"
    assert owasp["overrides"]["categories"] == [{"category": "paranoia-level-3", "enabled": False},
                                                {"category": "paranoia-level-4", "enabled": False}]


# ---- the zone's plan ------------------------------------------------------------------------------

def test_committed_stacks_declare_the_business_plan():
    for stack in ("production", "staging"):
        assert stack_file_config(stack)[f"{PREFIX}zone"]["plan"] == "business"


def test_pro_plan_refuses_enterprise_and_business_features():
    def pro_with_waf_score(c):
        c[f"{PREFIX}zone"]["plan"] = "pro"
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][0]["expression"] = (
            '(http.request.uri.path contains "/sessions/" and cf.waf.score lt 20)')
    found = problems("production", pro_with_waf_score)
    waf = [p for p in found if "edgeSecurity.wafCustomRules[0].expression: (session_integrity)" in p]
    assert waf and "cf.waf.score" in waf[0] and "Enterprise plan" in waf[0] and "Pro plan" in waf[0]
    # Pro also lacks the five rate-limit rules and the user agent in a rate-limit expression.
    assert any("edgeSecurity.rateLimits: 5 rate limiting rules" in p and "Business plan or higher" in p for p in found)
    assert any("rateLimits[0].expression: (ai_platform_verification)" in p and "http.user_agent" in p for p in found)


def test_enterprise_only_timeout_is_refused_naming_it():
    def timeout(c):
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][0]["mitigationTimeout"] = 600
    (problem,) = problems("production", timeout)
    assert "edgeSecurity.rateLimits[0].mitigationTimeout: (ai_platform_verification)" in problem
    assert "Enterprise plan" in problem and "managed_challenge" in problem

    def block_600(c):
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][2]["mitigationTimeout"] = 600
    (problem,) = problems("production", block_600)
    assert "rateLimits[2].mitigationTimeout: (auth_endpoints)" in problem and "600 s" in problem


def test_enterprise_plan_accepts_them():
    def enterprise(c):
        c[f"{PREFIX}zone"]["plan"] = "enterprise"
        c[f"{PREFIX}edgeSecurity"]["rateLimits"][0]["mitigationTimeout"] = 600
    config = stack_file_config("production")
    enterprise(config)
    settings = parse_stack_config({k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)},
                                  "Pulumi.production.yaml")
    assert settings.edge_security.rate_limits[0].timeout == 600


def test_cli_exits_2_naming_the_enterprise_field(tmp_path, capsys):
    import yaml

    from chittyos_edge import cli

    from conftest import copy_project

    copy = copy_project(tmp_path / "copy")
    stack_file = copy.stack_file("production")
    document = yaml.safe_load(stack_file.read_text())
    document["config"][f"{PREFIX}zone"]["plan"] = "pro"
    stack_file.write_text(yaml.safe_dump(document))
    assert cli.main(["-C", str(copy.root), "plan", "--stack", "production"]) == 2
    err = capsys.readouterr().err
    assert "cf.waf.score.class" in err and "Business plan or higher" in err and "Traceback" not in err


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
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][0]["ref"] = "auth_endpoints"
    assert "auth_endpoints" in problems("production", repeated)[0]

    def reserved(c):
        c[f"{PREFIX}edgeSecurity"]["wafCustomRules"][0]["ref"] = "security_headers"
    assert "reserved" in problems("production", reserved)[0]
