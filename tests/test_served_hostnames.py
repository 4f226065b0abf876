"""Every hostname is served: a route's host needs a proxied DNS record the stack declares or the inventory
lists; every enabled load-balancer origin must be served by the stack or listed in the inventory."""

from __future__ import annotations

import pytest

from chittyos_edge import preflight
from chittyos_edge.config import ConfigError
from chittyos_edge.inventory.model import Inventory
from tests.conftest import plan_with

PREFIX = "chittyos-edge:"


def _problems(stack, mutate) -> list[str]:
    with pytest.raises(ConfigError) as error:
        plan_with(stack, mutate)
    return error.value.problems


def _no_route_record(config):
    del config[f"{PREFIX}services"]["project-awareness"]["routeDnsRecords"]


def test_a_route_without_a_proxied_record_is_a_config_error():
    (line,) = _problems("production", _no_route_record)
    assert "chittyos-edge:services.project-awareness.routes[0]: the route's host api.chitty.cc has no proxied DNS record" in line
    assert "services.project-awareness.routeDnsRecords" in line and "inventory/production.yaml" in line


def _live(**sections) -> Inventory:
    return Inventory.model_validate({"formatVersion": 1, "stack": "production", "account": "0" * 32,
                                     "zone": "chitty.cc", **sections})


def test_a_route_host_the_inventory_serves_needs_no_record(monkeypatch):
    live = _live(dnsRecords=[{"name": "api.chitty.cc", "type": "CNAME", "proxied": True, "source": "account"}])
    monkeypatch.setattr(preflight, "_inventory", lambda stack, root: live if stack == "production" else None)
    plan = plan_with("production", _no_route_record)
    assert not [r for r in plan["resources"] if r["type"].endswith("dnsRecord:DnsRecord") and r["inputs"]["name"] == "api.chitty.cc"]


def test_an_unproxied_live_record_does_not_serve_a_route(monkeypatch):
    live = _live(dnsRecords=[{"name": "api.chitty.cc", "type": "A", "proxied": False, "source": "account"}])
    monkeypatch.setattr(preflight, "_inventory", lambda stack, root: live if stack == "production" else None)
    assert any("services.project-awareness.routes[0]" in p for p in _problems("production", _no_route_record))


def _origin(address, enabled=True):
    def mutate(config):
        config[f"{PREFIX}loadBalancing"]["pools"]["primary-workers"]["origins"].append(
            {"name": "us-west", "address": address, "enabled": enabled})
    return mutate


def test_a_load_balancer_origin_nothing_serves_is_a_config_error():
    (line,) = _problems("production", _origin("project-awareness-west.chitty.cc"))
    assert "chittyos-edge:loadBalancing.pools.primary-workers.origins[1] (us-west): project-awareness-west.chitty.cc" in line
    assert "served by nothing" in line


def test_a_disabled_origin_or_one_the_inventory_lists_is_accepted(monkeypatch):
    plan_with("production", _origin("project-awareness-west.chitty.cc", enabled=False))
    live = _live(dnsRecords=[{"name": "project-awareness-west.chitty.cc", "type": "A", "proxied": False,
                              "source": "account"}])
    monkeypatch.setattr(preflight, "_inventory", lambda stack, root: live if stack == "production" else None)
    plan_with("production", _origin("project-awareness-west.chitty.cc"))


def test_an_origin_on_a_custom_domain_of_the_stack_is_served():
    plan_with("production", _origin("connect.chitty.cc"))
