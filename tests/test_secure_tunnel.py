"""SecureTunnel: 1Password Connect behind a Cloudflare Tunnel and Zero Trust Access, in both stacks."""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.plan.mocks import digest, uuid_from
from chittyos_edge.plan.runtime import run_plan
from tests.conftest import plan_with, resource, resources, stack_file_config, config_problems

PREFIX = "chittyos-edge:"
TUNNEL = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
DNS = "cloudflare:index/dnsRecord:DnsRecord"
APP = "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication"
POLICY = "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy"
TOKEN = "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken"
HOSTNAMES = {"production": "1password-connect.chitty.cc", "staging": "1password-connect-staging.chitty.cc"}


def tunnel_section(stack: str) -> dict:
    return stack_file_config(stack)[f"{PREFIX}tunnel"]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_tunnel_is_remotely_managed_and_named_for_its_environment(plans, stack):
    tunnel = resource(plans[stack], TUNNEL, f"{stack}-tunnel-tunnel")
    assert tunnel["inputs"]["configSrc"] == "cloudflare"
    assert tunnel["inputs"]["name"] == f"1password-connect-{stack}"
    assert tunnel["inputs"]["accountId"] == stack_file_config(stack)[f"{PREFIX}account"]["id"]
    assert tunnel["parent"].endswith(f"chittyos:secure_tunnel:SecureTunnel::{stack}-tunnel")


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_ingress_sends_the_hostname_to_nginx_behind_access_and_ends_with_a_catch_all(plans, stack):
    plan = plans[stack]
    tunnel = resource(plan, TUNNEL, f"{stack}-tunnel-tunnel")
    app = resource(plan, APP, f"{stack}-tunnel-access-app")
    config = resource(plan, CONFIG, f"{stack}-tunnel-config")["inputs"]
    assert config["tunnelId"] == uuid_from(tunnel["urn"])
    *rules, last = config["config"]["ingresses"]
    assert last == {"service": "http_status:404"}
    declared = tunnel_section(stack)["ingress"]
    assert [(r["path"], r["service"]) for r in rules] == [(d["path"], d["service"]) for d in declared]
    for rule in rules:
        assert rule["hostname"] == HOSTNAMES[stack]
        assert rule["service"] == "http://nginx-proxy:80"
        access = rule["originRequest"]["access"]
        # cloudflared itself refuses requests without this application's Access token.
        assert access["required"] is True
        assert access["audTags"] == [digest(f"aud:{app['urn']}", 64)]
        assert access["teamName"] == "offline-plan"  # from the account's Zero Trust organization (invoke)
        assert rule["originRequest"]["httpHostHeader"] == HOSTNAMES[stack]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_proxied_cname_points_at_the_tunnel(plans, stack):
    tunnel = resource(plans[stack], TUNNEL, f"{stack}-tunnel-tunnel")
    record = resource(plans[stack], DNS, f"{stack}-tunnel-dns")["inputs"]
    assert record["name"] == HOSTNAMES[stack]
    assert record["type"] == "CNAME"
    assert record["content"] == f"{uuid_from(tunnel['urn'])}.cfargotunnel.com"
    assert record["proxied"] is True
    assert record["ttl"] == 1


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_access_application_uses_reusable_policies_for_machines_then_people(plans, stack):
    plan = plans[stack]
    access = tunnel_section(stack)["access"]
    tokens = {r["inputs"]["name"]: r for r in resources(plan, TOKEN)}
    assert set(tokens) == {f"1password-connect-{t}-{stack}" for t in access["serviceTokens"]}
    machines = resource(plan, POLICY, f"{stack}-tunnel-policy-machines")
    people = resource(plan, POLICY, f"{stack}-tunnel-policy-people")
    assert machines["inputs"]["decision"] == "non_identity"
    assert machines["inputs"]["includes"] == [{"serviceToken": {"tokenId": digest(t["urn"])}}
                                              for t in tokens.values()]
    assert people["inputs"]["decision"] == "allow"
    assert people["inputs"]["includes"] == [{"emailDomain": {"domain": d}} for d in access["allowEmailDomains"]]

    app = resource(plan, APP, f"{stack}-tunnel-access-app")["inputs"]
    assert app["type"] == "self_hosted"
    assert app["destinations"] == [{"type": "public", "uri": HOSTNAMES[stack]}]
    assert app["sessionDuration"] == access["sessionDuration"]
    assert app["serviceAuth401Redirect"] is True
    assert app["policies"] == [{"id": digest(machines["urn"]), "precedence": 1},
                               {"id": digest(people["urn"]), "precedence": 2}]


def test_team_name_from_config_skips_the_organization_lookup():
    def set_team(config):
        config[f"{PREFIX}tunnel"]["access"]["teamName"] = "chittyos"
    plan = plan_with("staging", set_team)
    rules = resource(plan, CONFIG, "staging-tunnel-config")["inputs"]["config"]["ingresses"][:-1]
    assert {r["originRequest"]["access"]["teamName"] for r in rules} == {"chittyos"}


def test_tunnel_token_and_service_token_secret_stay_secret():
    """The token cloudflared runs with is a secret Output, never a plain value."""
    from chittyos_edge.config import load
    from components.secure_tunnel import SecureTunnel

    def program():
        settings = load().settings
        tunnel = SecureTunnel("t", account_id=settings.account.id, zone_id="z" * 32,
                              environment=settings.environment, tunnel=settings.tunnel)
        return {"token": tunnel.token,
                "healthSecret": tunnel.health_check_headers["CF-Access-Client-Secret"][0],
                "healthId": tunnel.health_check_headers["CF-Access-Client-Id"][0]}

    outputs = run_plan("staging", program=program)["outputs"]
    assert outputs["token"] == "[secret:token]"
    assert outputs["healthSecret"] == "[secret:healthSecret]"
    assert outputs["healthId"].endswith(".access")  # the client id is not a secret


# ---- config rules (no Pulumi runtime) ---------------------------------------------------------

problems = config_problems


def test_ingress_path_must_be_a_regex():
    def bad(c):
        c[f"{PREFIX}tunnel"]["ingress"][0]["path"] = "^/v1/(("
    (problem,) = problems("production", bad)
    assert "chittyos-edge:tunnel.ingress[0].path" in problem and "regular expression" in problem


def test_access_must_allow_someone():
    def nobody(c):
        c[f"{PREFIX}tunnel"]["access"] = {"sessionDuration": "12h"}
    (problem,) = problems("staging", nobody)
    assert "chittyos-edge:tunnel.access" in problem and "allowEmailDomains" in problem


def test_health_check_behind_access_needs_the_healthcheck_token():
    def no_token(c):
        c[f"{PREFIX}tunnel"]["access"]["serviceTokens"] = ["chittyconnect-worker"]
    (problem,) = problems("production", no_token)
    assert "monitoring.healthChecks[" in problem and "onepassword-connect-health" in problem
    assert "'healthcheck'" in problem and "tunnel.access.serviceTokens" in problem
