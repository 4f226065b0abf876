"""LoadBalancing: geo steering with failover in production; off in staging unless config turns it on."""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.plan.mocks import digest, zone_id_for
from tests.conftest import plan_with, resource, resources, stack_file_config, config_problems

PREFIX = "chittyos-edge:"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LB = "cloudflare:index/loadBalancer:LoadBalancer"
LB_TYPES = (MONITOR, POOL, LB)


def pool_ids(plan, stack: str) -> dict[str, str]:
    return {r["name"][len(f"{stack}-load-balancing-pool-"):]: digest(r["urn"]) for r in resources(plan, POOL)}


def test_monitor_is_account_level_https_with_a_string_status(production):
    (monitor,) = resources(production, MONITOR)
    inputs = monitor["inputs"]
    assert inputs["accountId"] == stack_file_config("production")[f"{PREFIX}account"]["id"]
    assert (inputs["type"], inputs["method"], inputs["path"], inputs["port"]) == ("https", "GET", "/health", 443)
    assert inputs["expectedCodes"] == "200"
    assert inputs["expectedBody"] == '"status":"healthy"'  # not 'healthy', which 'unhealthy' contains
    assert (inputs["interval"], inputs["timeout"], inputs["retries"]) == (60, 5, 2)


def test_pools_hold_only_origins_something_serves(production):
    """The optimization report's us-west, eu-west and eu-central hostnames are served by nothing: left out (see the stack file)."""
    monitor_id = digest(resources(production, MONITOR)[0]["urn"])
    pools = {r["inputs"]["name"]: r["inputs"] for r in resources(production, POOL)}
    assert set(pools) == {"primary-workers-production"}
    primary = pools["primary-workers-production"]
    assert primary["monitor"] == monitor_id
    assert primary["checkRegions"] == ["WNAM", "ENAM"]
    assert primary["minimumOrigins"] == 1
    assert [(o["name"], o["address"], o["weight"], o["enabled"]) for o in primary["origins"]] == [
        ("us-east", "project-awareness.chitty.cc", 1, True)]
    for origin in primary["origins"]:
        assert origin["header"] == {"hosts": [origin["address"]]}


def test_load_balancer_steers_by_region_with_a_fallback_and_failover(production):
    ids = pool_ids(production, "production")
    lb = resource(production, LB, "production-load-balancing-lb")["inputs"]
    assert lb["zoneId"] == zone_id_for("chitty.cc")
    assert lb["name"] == "project-awareness-global.chitty.cc"
    assert lb["steeringPolicy"] == "geo"
    assert lb["regionPools"] == {region: [ids["primary-workers"]] for region in ("WNAM", "ENAM", "WEU", "EEU")}
    assert lb["defaultPools"] == [ids["primary-workers"]]
    assert lb["fallbackPool"] == ids["primary-workers"]
    assert lb["adaptiveRouting"] == {"failoverAcrossPools": True}
    assert (lb["proxied"], lb["ttl"]) == (True, 60)


def test_staging_has_no_load_balancer_by_default(staging):
    for type_token in LB_TYPES:
        assert resources(staging, type_token) == []


def test_staging_can_turn_it_on_with_its_own_names():
    host = "project-awareness-global-staging.chitty.cc"

    def enable(config):
        config[f"{PREFIX}loadBalancing"] = {
            "enabled": True, "hostname": host,
            "pools": {"primary-workers": {"checkRegions": ["ENAM"], "origins": [
                {"name": "us-east", "address": "project-awareness-staging.chitty.cc"}]}},
            "regionPools": {"ENAM": ["primary-workers"]},
            "defaultPools": ["primary-workers"], "fallbackPool": "primary-workers"}
        config[f"{PREFIX}monitoring"]["healthChecks"].append(
            {"name": "project-awareness-global-lb", "hostname": host, "interval": 120, "regions": ["ENAM"]})

    plan = plan_with("staging", enable)
    (pool,) = resources(plan, POOL)
    assert pool["inputs"]["name"] == "primary-workers-staging"
    lb = resource(plan, LB, "staging-load-balancing-lb")["inputs"]
    assert lb["name"] == host
    assert lb["fallbackPool"] == digest(pool["urn"])


# ---- config rules (no Pulumi runtime) ---------------------------------------------------------

problems = config_problems


def test_unknown_pool_is_named():
    def bad(c):
        c[f"{PREFIX}loadBalancing"]["fallbackPool"] = "asia-workers"
    (problem,) = problems("production", bad)
    assert "chittyos-edge:loadBalancing" in problem and "asia-workers" in problem


def test_unknown_region_is_named():
    def bad(c):
        c[f"{PREFIX}loadBalancing"]["regionPools"]["APAC"] = ["primary-workers"]
    (problem,) = problems("production", bad)
    assert "APAC" in problem and "SEAS" in problem


def test_load_balancer_hostname_needs_a_health_check():
    def drop(c):
        c[f"{PREFIX}monitoring"]["healthChecks"] = [
            h for h in c[f"{PREFIX}monitoring"]["healthChecks"] if h["name"] != "project-awareness-global-lb"]
    (problem,) = problems("production", drop)
    assert "'project-awareness-global.chitty.cc' has no health check" in problem
