"""Every planned Cloudflare resource of both stacks conforms to Cloudflare's published request types.

The request types come from the official `cloudflare` Python SDK (generated from Cloudflare's OpenAPI
schema; a test dependency), walked by tests/cloudflare_api.py; ruleset expressions are checked against
the Rules-language reference committed in chittyos_edge/data/rules_language.json.
"""

from __future__ import annotations

import copy

import pytest

from chittyos_edge import rules_language
from chittyos_edge.config.plans import ZonePlan
from tests import cloudflare_api
from tests.conftest import stack_file_config

STACKS = ("production", "staging")


def cloudflare_resources(plan):
    return [r for r in plan["resources"] if r["type"].startswith("cloudflare:")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_planned_resource_conforms_to_cloudflares_request_types(plans, stack):
    checked = cloudflare_resources(plans[stack])
    assert len(checked) > 40
    problems = [p for r in checked for p in cloudflare_api.check(r["type"], r["inputs"], r["name"])]
    assert problems == []


def planted(plans, type_token: str, change) -> list[str]:
    plan = copy.deepcopy(plans["production"])
    (target, *_) = [r for r in cloudflare_resources(plan) if r["type"] == type_token]
    change(target["inputs"])
    return cloudflare_api.check(target["type"], target["inputs"], target["name"])


@pytest.mark.parametrize("type_token, change, expected", [
    ("cloudflare:index/healthcheck:Healthcheck", lambda i: i.update(checkRegions=["APAC"]), "'APAC' is not one of"),
    ("cloudflare:index/notificationPolicy:NotificationPolicy", lambda i: i.update(alertType="http_alert_origin_errors"),
     "'http_alert_origin_errors' is not one of"),
    ("cloudflare:index/ruleset:Ruleset", lambda i: i["rules"][0].update(action="challange"), "'challange'"),
    ("cloudflare:index/ruleset:Ruleset", lambda i: i.update(phase="http_ratelimits"), "'http_ratelimits'"),
    ("cloudflare:index/loadBalancerPool:LoadBalancerPool", lambda i: i.update(checkRegions=["EU"]), "'EU'"),
    ("cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor", lambda i: i.update(type="wss"), "'wss'"),
    ("cloudflare:index/zoneSetting:ZoneSetting", lambda i: i.update(settingId="min_tls_version", value="1.4"), "'1.4'"),
    ("cloudflare:index/zoneSetting:ZoneSetting", lambda i: i.update(settingId="ssl_mode"), "not a zone setting id"),
    ("cloudflare:index/healthcheck:Healthcheck", lambda i: i.update(consecutiveFailures=3), "unknown field"),
])
def test_a_planted_invalid_value_fails(plans, type_token, change, expected):
    problems = planted(plans, type_token, change)
    assert any(expected in p for p in problems), problems


def test_every_planned_type_is_mapped(plans):
    types = {r["type"] for stack in STACKS for r in cloudflare_resources(plans[stack])}
    unmapped = sorted(types - set(cloudflare_api.TARGETS) - {cloudflare_api.ZONE_SETTING})
    assert unmapped == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_ruleset_expression_uses_known_fields_and_functions_the_plan_has(plans, stack):
    reference = rules_language.reference()
    plan_of = {p.value: p for p in ZonePlan}
    declared = plan_of[stack_file_config(stack)["chittyos-edge:zone"]["plan"]]
    expressions = [rule["expression"] for r in cloudflare_resources(plans[stack])
                   if r["type"] == "cloudflare:index/ruleset:Ruleset" for rule in r["inputs"]["rules"]]
    assert expressions or stack == "staging"
    for expression in expressions:
        used = rules_language.usage(expression)
        for name in used.fields:
            assert name in reference["fields"], f"unknown field {name} in {expression}"
            assert plan_of[reference["fields"][name]["plan"]].rank <= declared.rank, name
        for name in used.functions:
            assert name in reference["functions"], f"unknown function {name}() in {expression}"
            assert plan_of[reference["functions"][name]["plan"]].rank <= declared.rank, name


def test_the_rules_language_reference_names_its_sources():
    reference = rules_language.reference()
    assert reference["sources"]["fields"].startswith("https://developers.cloudflare.com/")
    assert all(entry["plan"] in {p.value for p in ZonePlan} for entry in reference["fields"].values())


def test_an_unknown_field_in_a_rule_is_a_config_error():
    from tests.conftest import config_problems

    def typo(c):
        c["chittyos-edge:edgeSecurity"]["wafCustomRules"][0]["expression"] = 'http.request.uri.paths eq "/x"'
    (problem,) = config_problems("production", typo)
    assert "wafCustomRules[0].expression: (session_integrity)" in problem and "http.request.uri.paths" in problem
