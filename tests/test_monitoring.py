"""Monitoring: a health check for every public hostname, alerts to PagerDuty and Slack through secret webhooks."""

from __future__ import annotations

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


def test_production_checks_carry_the_seeds_values(production):
    check = checks(production)["project-awareness-health-production"]["inputs"]
    assert check["type"] == "HTTPS"
    assert check["address"] == "project-awareness.chitty.cc"
    assert (check["interval"], check["timeout"], check["retries"]) == (30, 5, 3)
    assert check["checkRegions"] == ["WNAM", "ENAM", "WEU", "SEAS", "NEAS"]  # the seed's APAC
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


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_alerts_route_critical_to_pagerduty_and_slack_and_warnings_to_slack(plans, stack):
    plan = plans[stack]
    hook_ids = {r["name"].rsplit("-", 1)[1]: digest(r["urn"]) for r in resources(plan, WEBHOOK)}
    declared = {a["name"]: a for a in stack_file_config(stack)[f"{PREFIX}monitoring"]["alerts"]}
    policies = {r["name"]: r["inputs"] for r in resources(plan, POLICY)}
    assert set(policies) == {f"{stack}-monitoring-alert-{name}" for name in declared}
    pagerduty = stack_file_config(stack)[f"{PREFIX}monitoring"]["pagerduty"]
    for name, alert in declared.items():
        policy = policies[f"{stack}-monitoring-alert-{name}"]
        assert policy["alertType"] == alert["alertType"]
        assert policy["enabled"] is True
        expected = (["pagerduty", "slack"] if alert["severity"] == "critical" and pagerduty else ["slack"])
        assert policy["mechanisms"] == {"webhooks": [{"id": hook_ids[route]} for route in expected]}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_health_and_tunnel_alerts_are_filtered_to_this_stack(plans, stack):
    plan = plans[stack]
    by_type = {r["inputs"]["alertType"]: r["inputs"] for r in resources(plan, POLICY)}
    health = by_type["health_check_status_notification"]["filters"]
    assert sorted(health["healthCheckIds"]) == sorted(digest(r["urn"]) for r in resources(plan, CHECK))
    tunnel = resource(plan, TUNNEL, f"{stack}-tunnel-tunnel")
    assert by_type["tunnel_health_event"]["filters"] == {"tunnelIds": [uuid_from(tunnel["urn"])]}


def test_production_pages_for_the_seeds_critical_alerts(production):
    types = {r["inputs"]["alertType"] for r in resources(production, POLICY)
             if len(r["inputs"]["mechanisms"]["webhooks"]) == 2}
    assert {"health_check_status_notification", "http_alert_origin_error", "load_balancing_health_alert",
            "tunnel_health_event"} <= types


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
    (problem,) = problems("staging", add)
    assert "monitoring.alerts[2].alertType" in problem and "(edge-errors)" in problem
    assert "production declares it" in problem


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
