"""CF-ENV-004: a plan adopts what runs. One case per collision kind, each a real plan checked against an
inventory that lists the live object; the committed stacks pass against their committed inventories."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from chittyos_edge import cli
from chittyos_edge.gate.collisions import collision_problems
from chittyos_edge.gate.runner import adoption_collisions
from chittyos_edge.gate.sources import from_plan
from chittyos_edge.inventory.command import stack_settings
from chittyos_edge.inventory.model import Inventory
from tests.conftest import PROJECT, plan_with

ACCOUNT = "0bc21e3a5a9de1a4cc843be9c3e98121"


def inventory(stack: str = "production", **sections: list[dict[str, Any]]) -> Inventory:
    entries = {key: [dict(item, source=item.get("source", "account")) for item in items]
               for key, items in sections.items()}
    return Inventory.model_validate({"formatVersion": 1, "stack": stack, "account": ACCOUNT, "zone": "chitty.cc",
                                     "refreshedAt": "2026-11-26T12:00:00Z", **entries})


def findings(plan: dict[str, Any], live: Inventory, mutate: Callable[[dict[str, Any]], None] | None = None) -> list[str]:
    """CF-ENV-004 messages of a plan, with the stack file (as mutated for the plan) naming the keys."""
    from chittyos_edge.config import parse_stack_config
    from tests.conftest import stack_file_config

    config = stack_file_config(plan["stack"])
    if mutate:
        mutate(config)
    settings = parse_stack_config({k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("chittyos-edge:")},
                                  "test", plan["stack"])
    return [message for _, message in collision_problems(from_plan(plan, "test"), live, settings)]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_committed_stacks_pass_against_their_inventories(plans, stack):
    assert adoption_collisions(from_plan(plans[stack], f"plan of {stack}"), PROJECT) == []


def test_a_live_worker_created_again_is_a_finding(staging):
    live = inventory("staging", workers=[{"name": "chittyops-project-awareness-staging", "workersDev": False}])
    (message,) = findings(staging, live)
    assert "Worker chittyops-project-awareness-staging already runs (inventory/staging.yaml" in message
    assert "services.project-awareness.adopt.scriptName: chittyops-project-awareness-staging" in message


def test_an_adopted_worker_is_no_finding(production):
    live = inventory(workers=[{"name": "chittyconnect", "workersDev": True}])
    assert findings(production, live) == []


@pytest.mark.parametrize("section, entry, key", [
    ("kvNamespaces", {"id": "c" * 32, "title": "chittyops-sessions-production"},
     "kvNamespaces.chittyops-sessions.adopt.id: " + "c" * 32),
    ("r2Buckets", {"name": "chittyops-analytics-production"}, "r2Buckets.chittyops-analytics.adopt.name"),
    ("d1Databases", {"id": "11111111-2222-3333-4444-555555555555", "name": "chittyconnect-production"}, None),
    ("queues", {"id": "d" * 32, "name": "github-events-dlq-production"}, "queues.github-events-dlq.adopt: {id: "),
    ("tunnels", {"id": "11111111-2222-3333-4444-555555555555", "name": "1password-connect-production"},
     "tunnel.adopt: {id: 11111111-2222-3333-4444-555555555555"),
])
def test_a_live_store_or_tunnel_created_again_is_a_finding(production, section, entry, key):
    messages = findings(production, inventory(**{section: [entry]}))
    if key is None:
        # the production database is adopted: a live database of that name is no collision
        assert messages == []
        return
    (message,) = messages
    assert "already exists (inventory/production.yaml" in message and "new, empty" in message
    assert key in message


def test_a_live_d1_database_created_again_is_a_finding():
    def drop_adoption(config):
        del config["chittyos-edge:d1Databases"]["chittyconnect"]["adopt"]

    plan = plan_with("staging", drop_adoption)
    live = inventory("staging", d1Databases=[{"id": "29473911-4c5b-47d8-a3e7-d1be2370edf6", "name": "chittyconnect-staging"}])
    (message,) = findings(plan, live, drop_adoption)
    assert "D1 database chittyconnect-staging already exists (inventory/staging.yaml" in message
    assert "d1Databases.chittyconnect.adopt: {id: 29473911-4c5b-47d8-a3e7-d1be2370edf6, name: chittyconnect-staging}" in message


def test_a_live_custom_domain_of_the_same_worker_must_be_adopted(production):
    live = inventory(workers=[{"name": "chittyconnect", "customDomains": [{"hostname": "connect.chitty.cc", "id": "e" * 32}]}])
    (message,) = findings(production, live)
    assert "custom domain connect.chitty.cc of Worker chittyconnect already exists" in message
    assert f"services.chittyconnect.adopt.customDomains.connect.chitty.cc: {'e' * 32}" in message

    def adopt(config):
        config["chittyos-edge:services"]["chittyconnect"]["adopt"]["customDomains"] = {"connect.chitty.cc": "e" * 32}

    adopted = plan_with("production", adopt)
    domain = next(r for r in adopted["resources"] if r["type"].endswith("WorkersCustomDomain")
                  and r["inputs"]["hostname"] == "connect.chitty.cc")
    assert domain["importId"] == f"{ACCOUNT}/{'e' * 32}" and domain["retainOnDelete"]
    assert findings(adopted, live, adopt) == []


def test_moving_a_custom_domain_off_a_live_worker_needs_a_reason(production):
    live = inventory(workers=[{"name": "legacy-site", "customDomains": [{"hostname": "project-awareness.chitty.cc"}]}])
    (message,) = findings(production, live)
    assert "custom domain project-awareness.chitty.cc is served by live Worker legacy-site" in message
    assert "services.project-awareness.takeOver.customDomains.project-awareness.chitty.cc" in message

    def take_over(config):
        config["chittyos-edge:services"]["project-awareness"]["takeOver"] = {
            "customDomains": {"project-awareness.chitty.cc": "legacy-site is retired with this release"}}

    assert findings(plan_with("production", take_over), live, take_over) == []


def test_moving_a_route_off_a_live_worker_needs_a_reason(production):
    live = inventory(workers=[{"name": "gateway", "routes": [{"pattern": "api.chitty.cc/project-awareness/*"}]}])
    (message,) = findings(production, live)
    assert "route api.chitty.cc/project-awareness/* is served by live Worker gateway" in message
    assert "services.project-awareness.takeOver.routes" in message

    def take_over(config):
        config["chittyos-edge:services"]["project-awareness"]["takeOver"] = {
            "routes": {"api.chitty.cc/project-awareness/*": "the gateway forwarded this path to us until now"}}

    assert findings(plan_with("production", take_over), live, take_over) == []


def test_a_dns_name_that_exists_is_a_finding(production):
    live = inventory(dnsRecords=[{"name": "api.chitty.cc", "type": "CNAME", "proxied": True}])
    messages = findings(production, live)
    assert any("DNS name api.chitty.cc already has a record (CNAME, inventory/production.yaml" in m
               and "services.project-awareness.routeDnsRecords" in m for m in messages), messages
    live = inventory(dnsRecords=[{"name": "1password-connect.chitty.cc", "type": "A", "proxied": False}])
    (message,) = findings(production, live)
    assert "DNS name 1password-connect.chitty.cc already has a record" in message and "tunnel.hostname" in message
    live = inventory(dnsRecords=[{"name": "connect.chitty.cc", "type": "A", "proxied": True}])
    (message,) = findings(production, live)
    assert "a custom domain needs the name free" in message and "services.chittyconnect.customDomains" in message


def test_a_second_consumer_on_a_live_workers_queue_needs_a_reason(production):
    live = inventory(workers=[{"name": "chittyconnect", "queueConsumers": [{"queue": "github-events", "id": "f" * 32}]}])
    (message,) = findings(production, live)
    assert "queue github-events is consumed by live Worker chittyconnect" in message
    assert "services.chittyconnect.takeOver.queueConsumers.github-events" in message

    def take_over(config):
        config["chittyos-edge:services"]["chittyconnect"]["takeOver"] = {
            "queueConsumers": {"github-events": "the consumer moves to this program's management; the live one is "
                                                "removed right before `pulumi up`"}}

    assert findings(plan_with("production", take_over), live, take_over) == []


def test_the_gate_fails_a_plan_that_creates_what_runs(capsys, tmp_path, production, monkeypatch):
    """End to end: the CLI gate, its pack process and the committed inventory of production."""
    plan = copy.deepcopy(production)
    worker = next(r for r in plan["resources"] if r["name"] == "production-chittyconnect-worker")
    worker["importId"] = None   # as if the stack file created a second `chittyconnect`
    path = tmp_path / "production.json"
    path.write_text(json.dumps(plan))
    code = cli.main(["gate", "--plan", str(path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (finding,) = [f for f in report["findings"] if f["ruleId"] == "CF-ENV-004"]
    assert finding["enforcement"] == "mandatory"
    assert "Worker chittyconnect already runs (inventory/production.yaml, recorded from documents)" in finding["message"]
    assert "services.chittyconnect.adopt.scriptName: chittyconnect" in finding["message"]


def test_stack_settings_read_the_committed_stack_files():
    assert stack_settings("staging", PROJECT).services["chittyconnect"].adopt.script_name == "chittyconnect-staging"
