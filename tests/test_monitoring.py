"""Monitoring: a health check for every public hostname, alerts to PagerDuty and Slack through secret webhooks."""

from __future__ import annotations

import re

import pytest

from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.plan.mocks import digest, uuid_from
from tests.conftest import resource, resources, stack_file_config, config_problems

PREFIX = "chittyos-edge:"
CHECK = "cloudflare:index/healthcheck:Healthcheck"
WEBHOOK = "cloudflare:index/notificationPolicyWebhooks:NotificationPolicyWebhooks"
POLICY = "cloudflare:index/notificationPolicy:NotificationPolicy"
TUNNEL = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"


def settings(stack: str):
    raw = {k[len(PREFIX):]: v for k, v in stack_file_config(stack).items() if k.startswith(PREFIX)}
    return parse_stack_config(raw, f"Pulumi.{stack}.yaml")


def checks(plan) -> dict[str, dict]:
    return {r["inputs"]["name"]: r for r in resources(plan, CHECK)}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_public_hostname_has_a_health_check(plans, stack):
    public = settings(stack).public_hostnames()
    assert public
    checked = {r["inputs"]["address"] for r in resources(plans[stack], CHECK)}
    assert set(public) <= checked, f"unchecked: {sorted(set(public) - checked)}"


def test_production_checks_carry_the_reports_values(production):
    check = checks(production)["project-awareness-health-production"]["inputs"]
    assert check["type"] == "HTTPS"
    assert check["address"] == "project-awareness.chitty.cc"
    assert (check["interval"], check["timeout"], check["retries"]) == (30, 5, 3)
    assert check["checkRegions"] == ["WNAM", "ENAM", "WEU", "SEAS", "NEAS"]  # the report's APAC
    http = check["httpConfig"]
    assert http["path"] == "/health"
    assert http["expectedCodes"] == ["200"]
    assert http["expectedBody"] == '"status":"healthy"'
    assert http["header"] == {"Host": ["project-awareness.chitty.cc"]}
    assert http["followRedirects"] is False
    perf = checks(production)["project-awareness-api-performance-production"]["inputs"]
    assert perf["httpConfig"]["path"] == "/api/projects/suggestions?platform=test"
    assert (perf["interval"], perf["timeout"]) == (60, 10)


def test_websocket_check_expects_upgrade_required(production):
    ws = checks(production)["project-awareness-websocket-production"]["inputs"]
    assert ws["httpConfig"]["path"] == "/ws"
    assert ws["httpConfig"]["expectedCodes"] == ["426"]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_check_behind_access_sends_the_service_token_as_a_secret(plans, stack):
    plan = plans[stack]
    (check,) = [r for r in resources(plan, CHECK) if r["inputs"]["name"].startswith("onepassword-connect-health")]
    header = check["inputs"]["httpConfig"]["header"]
    token = resource(plan, "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
                     f"{stack}-tunnel-token-healthcheck")
    assert header["CF-Access-Client-Id"] == [f"{digest('client:' + token['urn'])}.access"]
    assert "CF-Access-Client-Secret" in header
    assert "httpConfig.header.CF-Access-Client-Secret[0]" in check["secretInputs"]


def test_staging_checks_are_lighter(production, staging):
    for check in resources(staging, CHECK):
        assert check["inputs"]["name"].endswith("-staging")
        assert check["inputs"]["interval"] >= 120
        assert len(check["inputs"]["checkRegions"]) == 1
    assert min(c["inputs"]["interval"] for c in resources(production, CHECK)) < 120


def test_webhook_urls_are_secret(production, staging):
    hooks = {r["name"]: r for r in resources(production, WEBHOOK)}
    assert set(hooks) == {"production-monitoring-slack", "production-monitoring-pagerduty"}
    for hook in hooks.values():
        assert hook["secretInputs"] == ["url"]
    assert hooks["production-monitoring-slack"]["inputs"]["url"] == "[secret:slackWebhookUrl]"
    # PagerDuty's Custom Event Transformer endpoint accepts Cloudflare's webhook body as it is.
    assert hooks["production-monitoring-pagerduty"]["inputs"]["url"] == (
        "https://events.pagerduty.com/integration/[secret:pagerdutyIntegrationKey]/enqueue")
    # Staging routes warnings to Slack only.
    assert [r["name"] for r in resources(staging, WEBHOOK)] == ["staging-monitoring-slack"]


def policies_of(plan) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in resources(plan, POLICY)}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_alerts_route_critical_to_pagerduty_and_slack_and_warnings_to_slack(plans, stack):
    plan = plans[stack]
    hook_ids = {r["name"].rsplit("-", 1)[1]: digest(r["urn"]) for r in resources(plan, WEBHOOK)}
    declared = {a["name"]: a for a in stack_file_config(stack)[f"{PREFIX}monitoring"]["alerts"]}
    policies = policies_of(plan)
    pagerduty = stack_file_config(stack)[f"{PREFIX}monitoring"]["pagerduty"]
    for name, alert in declared.items():
        policy = policies[f"{stack}-monitoring-alert-{name}"]
        assert policy["alertType"] == alert["alertType"]
        assert policy["enabled"] is True
        expected = (["pagerduty", "slack"] if alert["severity"] == "critical" and pagerduty else ["slack"])
        assert policy["mechanisms"] == {"webhooks": [{"id": hook_ids[route]} for route in expected]}
    extra = set(policies) - {f"{stack}-monitoring-alert-{name}" for name in declared}
    assert all(name.endswith("-recovered") for name in extra), extra


def test_health_checks_need_consecutive_failures_before_turning_unhealthy(plans):
    for plan in plans.values():
        for check in resources(plan, CHECK):
            assert check["inputs"]["consecutiveFails"] == 3, check["name"]
            assert check["inputs"]["consecutiveSuccesses"] == 3, check["name"]


def test_recoveries_go_to_slack_only_and_failures_page(production):
    hook_ids = {r["name"].rsplit("-", 1)[1]: digest(r["urn"]) for r in resources(production, WEBHOOK)}
    policies = policies_of(production)
    for name in ("service-down", "api-latency", "lb-pool-health"):
        failing = policies[f"production-monitoring-alert-{name}"]
        recovered = policies[f"production-monitoring-alert-{name}-recovered"]
        key = "statuses" if "statuses" in failing["filters"] else "newHealths"
        assert failing["filters"][key] == ["Unhealthy"] and recovered["filters"][key] == ["Healthy"]
        assert {"id": hook_ids["pagerduty"]} in failing["mechanisms"]["webhooks"]
        assert recovered["mechanisms"] == {"webhooks": [{"id": hook_ids["slack"]}]}
    for policy in policies.values():
        if "Healthy" in policy.get("filters", {}).get("statuses", []) + policy.get("filters", {}).get("newHealths", []):
            assert {"id": hook_ids["pagerduty"]} not in policy["mechanisms"]["webhooks"], policy["name"]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_alert_policy_links_a_runbook_that_exists(plans, stack):
    from conftest import ROOT

    for name, policy in policies_of(plans[stack]).items():
        match = re.search(r"Runbook: (docs/runbooks/[a-z0-9-]+\.md)", policy["description"])
        assert match, f"{name} links no runbook"
        runbook = (ROOT / match.group(1)).read_text()
        for section in ("## What it means", "## First checks", "## Rollback"):
            assert section in runbook, f"{match.group(1)} lacks {section}"


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_health_and_tunnel_alerts_are_filtered_to_this_stack(plans, stack):
    plan = plans[stack]
    policies = policies_of(plan)
    checks = {r["inputs"]["name"]: digest(r["urn"]) for r in resources(plan, CHECK)}
    health = [p for p in policies.values() if p["alertType"] == "health_check_status_notification"]
    watched = [i for p in health if not p["name"].startswith("api-latency") for i in p["filters"]["healthCheckIds"]]
    latency = [i for p in health if p["name"].startswith("api-latency") for i in p["filters"]["healthCheckIds"]]
    assert sorted(set(watched) | set(latency)) == sorted(checks.values())
    assert not set(watched) & set(latency)  # each check pages through one alert
    tunnel = resource(plan, TUNNEL, f"{stack}-tunnel-tunnel")
    (tunnel_policy,) = [p for p in policies.values() if p["alertType"] == "tunnel_health_event"]
    assert tunnel_policy["filters"] == {"tunnelIds": [uuid_from(tunnel["urn"])]}


def test_production_pages_for_the_reports_critical_alerts(production):
    types = {r["inputs"]["alertType"] for r in resources(production, POLICY)
             if len(r["inputs"]["mechanisms"]["webhooks"]) == 2}
    assert {"health_check_status_notification", "load_balancing_health_alert"} <= types


def test_usage_alert_carries_the_reports_threshold(production):
    usage = policies_of(production)["production-monitoring-alert-workers-usage"]
    assert usage["alertType"] == "billing_usage_alert"
    assert usage["filters"] == {"products": ["worker_requests"], "limits": ["8000000"]}


def test_enterprise_error_rate_alert_is_refused_on_business():
    def origin_errors(c):
        c[f"{PREFIX}monitoring"]["alerts"].append(
            {"name": "origin-error-rate", "alertType": "http_alert_origin_error", "severity": "critical",
             "filters": {"slos": ["99.9"]}})
    (problem,) = problems("production", origin_errors)
    assert "monitoring.alerts[" in problem and "http_alert_origin_error" in problem and "Enterprise plan" in problem


def test_analytics_bucket_keeps_its_data(production):
    lifecycle = resource(production, "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle",
                         "production-storage-bucket-chittyops-analytics-lifecycle")
    rules = lifecycle["inputs"]["rules"]
    assert all("deleteObjectsTransition" not in rule for rule in rules)
    assert any(rule.get("storageClassTransitions") for rule in rules)


# ---- config rules (no Pulumi runtime) ---------------------------------------------------------

problems = config_problems


def test_a_public_hostname_without_a_check_is_a_config_error():
    def drop(c):
        c[f"{PREFIX}monitoring"]["healthChecks"] = [
            h for h in c[f"{PREFIX}monitoring"]["healthChecks"] if h["hostname"] != "connect-staging.chitty.cc"]
    (problem,) = problems("staging", drop)
    assert "monitoring.healthChecks" in problem and "'connect-staging.chitty.cc' has no health check" in problem


def test_staging_may_not_check_production_hostnames():
    def foreign(c):
        c[f"{PREFIX}monitoring"]["healthChecks"][0]["hostname"] = "project-awareness.chitty.cc"
    found = problems("staging", foreign)
    assert any("monitoring.healthChecks[0].hostname" in p and "(project-awareness-health)" in p
               and "not served by this stack" in p for p in found)


def test_zone_wide_alerts_belong_to_production():
    def add(c):
        c[f"{PREFIX}monitoring"]["alerts"].append(
            {"name": "edge-errors", "alertType": "http_alert_edge_error", "severity": "warning"})
    found = problems("staging", add)
    assert any("monitoring.alerts[2].alertType" in p and "(edge-errors)" in p and "production declares it" in p
               for p in found)


def test_an_alert_needs_a_destination():
    def silence(c):
        c[f"{PREFIX}monitoring"]["slack"] = False
    found = problems("staging", silence)
    assert len(found) == 2 and all("has no destination" in p for p in found)


def test_unknown_health_check_region_names_the_valid_ones():
    def apac(c):
        c[f"{PREFIX}monitoring"]["healthChecks"][0]["regions"] = ["APAC"]
    (problem,) = problems("production", apac)
    assert "monitoring.healthChecks[0].regions[0]" in problem and "SEAS and NEAS" in problem
