"""KV namespaces and queues: one per config entry, named for the environment, protected in production."""

from __future__ import annotations

import pytest

from chittyos_edge import naming
from tests.conftest import plan_with, resource, resources, stack_file_config

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
QUEUE = "cloudflare:index/queue:Queue"
R2 = "cloudflare:index/r2Bucket:R2Bucket"
D1 = "cloudflare:index/d1Database:D1Database"
STATEFUL = (KV, QUEUE, R2, D1)


def _section(stack: str, key: str) -> dict:
    return stack_file_config(stack)[f"chittyos-edge:{key}"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_kv_namespace_is_registered_with_its_environment(plans, stack):
    plan = plans[stack]
    config = _section(stack, "kvNamespaces")
    account = stack_file_config(stack)["chittyos-edge:account"]["id"]
    assert len(resources(plan, KV)) == len(config)
    for key, entry in config.items():
        kv = resource(plan, KV, f"{stack}-data-kv-{key}")
        adopt = entry.get("adopt")
        expected_title = (adopt or {}).get("title") or naming.kv_title(key, stack)
        assert kv["inputs"] == {"accountId": account, "title": expected_title}
        assert kv["importId"] == (f"{account}/{adopt['id']}" if adopt else None)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_queue_is_registered_with_its_environment(plans, stack):
    plan = plans[stack]
    config = _section(stack, "queues")
    account = stack_file_config(stack)["chittyos-edge:account"]["id"]
    assert len(resources(plan, QUEUE)) == len(config)
    for key, entry in config.items():
        queue = resource(plan, QUEUE, f"{stack}-data-queue-{key}")
        adopt = entry.get("adopt")
        assert queue["inputs"]["queueName"] == (adopt["name"] if adopt else naming.queue_name(key, stack))
        assert queue["inputs"]["accountId"] == account
        assert queue["importId"] == (f"{account}/{adopt['id']}" if adopt else None)
    assert "github-events-dlq-" + stack in {q["inputs"]["queueName"] for q in resources(plan, QUEUE)}


def test_stateful_resources_are_protected_and_retained_in_production_only(plans):
    """Staging destroys what it created; what it adopted existed before it and is retained."""
    for stack, expected in (("production", True), ("staging", False)):
        stateful = [r for t in STATEFUL for r in resources(plans[stack], t)]
        assert stateful
        for r in stateful:
            assert (r["protect"], r["retainOnDelete"]) == (expected, expected or bool(r["importId"])), r["urn"]


def test_no_store_name_or_id_is_shared_between_the_stacks(plans):
    """The ChittyConnect status report: staging used production's KV and D1. Nothing of that kind may appear in both plans."""
    def identities(plan):
        found = set()
        for r in plan["resources"]:
            inputs = r["inputs"]
            if r["type"] == KV:
                found.add(("kv", inputs["title"]))
            elif r["type"] == QUEUE:
                found.add(("queue", inputs["queueName"]))
            elif r["type"] == R2:
                found.add(("bucket", inputs["name"]))
            elif r["type"] == D1:
                found.add(("database", inputs["name"]))
            else:
                continue
            if r["importId"]:
                found.add(("id", r["importId"].split("/")[1]))
        return found

    staging, production = identities(plans["staging"]), identities(plans["production"])
    assert staging and production
    assert staging & production == set()
    # and the ids each Worker binds to differ too (bindings resolve to the stack's own stores)
    def bound_ids(plan):
        ids = set()
        for script in (resources(plan, "cloudflare:index/workersScript:WorkersScript")
                       + resources(plan, "cloudflare:index/workerVersion:WorkerVersion")):
            for binding in script["inputs"]["bindings"]:
                for key in ("namespaceId", "bucketName", "id", "queueName"):
                    if key in binding:
                        ids.add(binding[key])
        return ids

    assert bound_ids(plans["staging"]) & bound_ids(plans["production"]) == set()


def test_what_staging_adopts_it_keeps_on_delete_but_does_not_protect():
    def adopt_in_staging(config):
        config["chittyos-edge:kvNamespaces"]["chittyops-sessions"]["adopt"] = {
            "id": "f" * 32, "title": "chittyops_sessions_staging"}

    plan = plan_with("staging", adopt_in_staging)
    kv = resource(plan, KV, "staging-data-kv-chittyops-sessions")
    assert kv["inputs"]["title"] == "chittyops_sessions_staging"
    assert kv["importId"] == f"0bc21e3a5a9de1a4cc843be9c3e98121/{'f' * 32}"
    assert (kv["protect"], kv["retainOnDelete"]) == (False, True)
    created = resource(plan, KV, "staging-data-kv-chittyops-projects")
    assert (created["protect"], created["retainOnDelete"]) == (False, False)


def test_queue_settings_reach_the_queue():
    def tune(config):
        config["chittyos-edge:queues"]["github-events-dlq"].update(
            {"deliveryDelay": 30, "messageRetentionPeriod": 1209600})

    plan = plan_with("staging", tune)
    queue = resource(plan, QUEUE, "staging-data-queue-github-events-dlq")
    assert queue["inputs"]["settings"] == {"deliveryDelay": 30, "messageRetentionPeriod": 1209600}
