"""Adoption: each stack imports what runs today (the ChittyConnect status report) by id, keeps it on delete,
and adopts nothing the other stack owns."""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError
from chittyos_edge.plan import make_plan
from chittyos_edge.plan import runtime as plan_runtime
from chittyos_edge.plan.capture import CapturingMonitor

from conftest import PROJECT, plan_with, resource, resources, stack_file_config

ACCOUNT = "0bc21e3a5a9de1a4cc843be9c3e98121"
KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
D1 = "cloudflare:index/d1Database:D1Database"
QUEUE = "cloudflare:index/queue:Queue"
WORKER = "cloudflare:index/worker:Worker"

# The ChittyConnect status report, "Cloudflare Resources": what ChittyConnect runs on today.
DOCUMENTED_IMPORTS = {
    (KV, "production-data-kv-chittyconnect-idempotency"): "ea43bc974b894701a069e4804be765ba",   # IDEMP_KV
    (KV, "production-data-kv-chittyconnect-tokens"): "d8051882226b470ba10035b30447a8b7",        # TOKEN_KV
    (KV, "production-data-kv-chittyconnect-api-keys"): "3a29a9de28c84b7e8b87070cbf006415",      # API_KEYS
    (KV, "production-data-kv-chittyconnect-rate-limit"): "1ab2c1114f5c4e248b8eba157615a125",    # RATE_LIMIT
    (D1, "production-storage-d1-chittyconnect"): "39f76706-5d67-401f-b1bf-9a212de4da0b",        # chittyconnect-production
    (QUEUE, "production-data-queue-github-events"): "b6e4e4981f644ce395645c5118ee0e94",         # github-events
}
STAGING_D1 = "29473911-4c5b-47d8-a3e7-d1be2370edf6"   # `chittyconnect`, staging's database (contexts, installations)
PRODUCTION_WORKER = {(WORKER, "production-chittyconnect-worker"): "chittyconnect"}
STAGING_IMPORTS = {(WORKER, "staging-chittyconnect-worker"): "chittyconnect-staging",
                   (D1, "staging-storage-d1-chittyconnect"): STAGING_D1}


def test_production_imports_exactly_the_documented_resources(production):
    imported = {(r["type"], r["name"]): r["importId"] for r in production["resources"] if r["importId"]}
    assert imported == {key: f"{ACCOUNT}/{rid}" for key, rid in {**DOCUMENTED_IMPORTS, **PRODUCTION_WORKER}.items()}


def test_staging_imports_its_running_worker_and_database(staging):
    imported = {(r["type"], r["name"]): r["importId"] for r in staging["resources"] if r["importId"]}
    assert imported == {key: f"{ACCOUNT}/{rid}" for key, rid in STAGING_IMPORTS.items()}
    database = resource(staging, D1, "staging-storage-d1-chittyconnect")
    assert database["inputs"]["name"] == "chittyconnect", "the live name, no '-staging'"
    assert [r["inputs"]["name"] for r in resources(staging, D1)] == ["chittyconnect"], "no new, empty database"


def test_every_adopted_resource_is_retained_on_delete_in_both_stacks(production, staging):
    for plan in (production, staging):
        adopted = [r for r in plan["resources"] if r["importId"]]
        assert adopted and all(r["retainOnDelete"] for r in adopted), [r["name"] for r in adopted
                                                                       if not r["retainOnDelete"]]
    # staging destroys what it created freely: only what it adopted is kept
    created = [r for r in staging["resources"] if r["custom"] and not r["importId"] and r["type"] in (D1, KV, QUEUE)]
    assert created and not any(r["retainOnDelete"] or r["protect"] for r in created)


def test_no_stack_refers_to_the_other_stacks_database(production, staging):
    assert STAGING_D1 not in str(production)
    assert "39f76706-5d67-401f-b1bf-9a212de4da0b" not in str(staging)


def test_adopted_resources_keep_their_names_and_are_protected(production):
    queue = resource(production, QUEUE, "production-data-queue-github-events")
    assert queue["inputs"]["queueName"] == "github-events"          # the live name, no "-production"
    database = resource(production, D1, "production-storage-d1-chittyconnect")
    assert database["inputs"]["name"] == "chittyconnect-production"
    for (typ, name) in DOCUMENTED_IMPORTS:
        adopted = resource(production, typ, name)
        assert adopted["protect"] and adopted["retainOnDelete"], name
    # the adopted ids are what the Worker binds, through the stack outputs
    connect = production["outputs"]["services"]["chittyconnect"]
    adopted_kv = {"IDEMP_KV": "ea43bc974b894701a069e4804be765ba", "TOKEN_KV": "d8051882226b470ba10035b30447a8b7",
                  "API_KEYS": "3a29a9de28c84b7e8b87070cbf006415", "RATE_LIMIT": "1ab2c1114f5c4e248b8eba157615a125"}
    assert {b: i for b, i in connect["kvNamespaces"].items() if b in adopted_kv} == adopted_kv
    # the Durable Object host's fallback namespace is new (not in the status report): bound, not adopted
    assert set(connect["kvNamespaces"]) == set(adopted_kv) | {"SESSION_FALLBACK_KV"}
    assert connect["d1Databases"]["DB"]["id"] == "39f76706-5d67-401f-b1bf-9a212de4da0b"


class _RecordingIgnoreChanges(CapturingMonitor):
    """The plan format has no ignoreChanges; this test-only monitor adds it to each record."""

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        # registrations arrive on several threads: find this one's record by its URN
        record = next(r for r in reversed(self.records) if r["urn"] == response.urn)
        record["ignoreChanges"] = sorted(request.ignoreChanges)
        return response


def recorded_ignore_changes(monkeypatch, stack, mutate):
    """Plan a variation with each record's ignoreChanges (not part of the plan format)."""
    config = stack_file_config(stack)
    mutate(config)
    monkeypatch.setattr(plan_runtime, "CapturingMonitor", _RecordingIgnoreChanges)
    return make_plan(stack, file_config=config)


def test_kv_title_rule(monkeypatch):
    """No recorded title: keep the live one (ignored on import). A recorded title: declared verbatim."""
    def titled(config):
        config["chittyos-edge:kvNamespaces"]["chittyconnect-tokens"]["adopt"]["title"] = "chittyconnect-TOKEN_KV"

    plan = recorded_ignore_changes(monkeypatch, "production", titled)

    untitled = resource(plan, KV, "production-data-kv-chittyconnect-idempotency")
    assert untitled["importId"] == f"{ACCOUNT}/ea43bc974b894701a069e4804be765ba"
    assert untitled["ignoreChanges"] == ["title"]
    titled = resource(plan, KV, "production-data-kv-chittyconnect-tokens")
    assert titled["inputs"]["title"] == "chittyconnect-TOKEN_KV"
    assert titled["ignoreChanges"] == []
    created = resource(plan, KV, "production-data-kv-chittyops-sessions")
    assert created["importId"] is None and created["ignoreChanges"] == []
    assert created["inputs"]["title"] == "chittyops-sessions-production"
    database = resource(plan, D1, "production-storage-d1-chittyconnect")
    assert database["ignoreChanges"] == ["primaryLocationHint"]   # a creation-time hint only


@pytest.mark.parametrize("adopt, expected", [
    ({"id": "ea43bc974b894701a069e4804be765bA"}, "kvNamespaces.chittyconnect-idempotency.adopt.id"),
    ({"id": "ea43bc974b894701a069e4804be765ba", "title": ""}, "adopt.title"),
    ({"id": "ea43bc974b894701a069e4804be765ba", "name": "x"}, "adopt.name"),
])
def test_bad_adopt_block_is_a_config_error(adopt, expected):
    def mutate(config):
        config["chittyos-edge:kvNamespaces"]["chittyconnect-idempotency"]["adopt"] = adopt

    with pytest.raises(ConfigError) as error:
        plan_with("production", mutate)
    assert expected in str(error.value)


def test_policy_allowlist_lists_exactly_the_adopted_ids():
    """The adopted ids keep their legacy names, so the policy pack must allow exactly them (production only)."""
    import json

    config = stack_file_config("production")
    adopted = {entry["adopt"]["id"] for section in ("kvNamespaces", "queues", "d1Databases")
               for entry in config[f"chittyos-edge:{section}"].values() if entry.get("adopt")}
    assert adopted == set(DOCUMENTED_IMPORTS.values())
    policies = {stack: json.loads(PROJECT.policy_config(stack).read_text())
                for stack in ("production", "staging")}
    staging = {entry["adopt"]["id"] for section in ("kvNamespaces", "queues", "d1Databases")
               for entry in stack_file_config("staging")[f"chittyos-edge:{section}"].values() if entry.get("adopt")}
    assert staging == {STAGING_D1}
    assert set(policies["production"]["bindings-resolve-in-stack"]["allowedLiteralIds"]) == adopted
    assert set(policies["staging"]["bindings-resolve-in-stack"]["allowedLiteralIds"]) == staging
    # names: the adopted stores, and the adopted Worker's legacy name (staging's carries its environment)
    workers = {s["adopt"]["scriptName"] for s in config["chittyos-edge:services"].values() if s.get("adopt")}
    assert workers == {"chittyconnect"}
    names = policies["production"]["stateful-names-carry-environment"]["allowedLiteralIds"]
    assert set(names) == adopted | workers
    assert set(policies["staging"]["stateful-names-carry-environment"]["allowedLiteralIds"]) == staging


# ---- adoption is checked against the environment (staging vs production) -------------------

def _adoption_problems(stack, mutate) -> list[str]:
    with pytest.raises(ConfigError) as error:
        plan_with(stack, mutate)
    return error.value.problems


def test_staging_adopting_a_production_kv_id_is_refused():
    def take_tokens(config):
        config["chittyos-edge:kvNamespaces"]["chittyconnect-tokens"]["adopt"] = {"id": "d8051882226b470ba10035b30447a8b7"}

    (line,) = _adoption_problems("staging", take_tokens)
    assert "chittyos-edge:kvNamespaces.chittyconnect-tokens.adopt.id: staging adopts 'd8051882226b470ba10035b30447a8b7'" in line
    assert "which production owns (Pulumi.production.yaml kvNamespaces.chittyconnect-tokens.adopt.id)" in line


def test_staging_adopting_what_only_the_production_inventory_lists_is_refused():
    def take_worker(config):
        config["chittyos-edge:services"]["chittyconnect"]["adopt"]["scriptName"] = "chittyconnect"

    problems = _adoption_problems("staging", take_worker)
    assert any("services.chittyconnect.adopt.scriptName: staging adopts 'chittyconnect'" in p and "production owns" in p
               for p in problems), problems


def test_production_adopting_the_staging_database_is_refused():
    def take_staging_d1(config):
        config["chittyos-edge:d1Databases"]["chittyconnect"]["adopt"] = {
            "id": "29473911-4c5b-47d8-a3e7-d1be2370edf6", "name": "chittyconnect"}

    (line,) = _adoption_problems("production", take_staging_d1)
    assert "d1Databases.chittyconnect.adopt.id: production adopts '29473911-4c5b-47d8-a3e7-d1be2370edf6'" in line
    assert "staging owns" in line


def test_production_adopting_a_name_for_staging_is_refused():
    from tests.conftest import config_problems

    def staging_queue(config):
        config["chittyos-edge:queues"]["github-events-dlq"]["adopt"] = {"id": "9" * 32, "name": "github-events-staging"}

    problems = config_problems("production", staging_queue)
    assert any("queues.github-events-dlq.adopt.id: production adopts 'github-events-staging', which is named for "
               "staging" in p for p in problems), problems


def test_an_id_is_adopted_once_in_a_stack():
    from tests.conftest import config_problems

    def twice(config):
        config["chittyos-edge:kvNamespaces"]["chittyops-sessions"]["adopt"] = {"id": "ea43bc974b894701a069e4804be765ba"}

    problems = config_problems("production", twice)
    assert any("kvNamespaces.chittyops-sessions.adopt.id:" in p and "ea43bc974b894701a069e4804be765ba" in p
               and "already used at kvNamespaces.chittyconnect-idempotency.adopt.id" in p for p in problems), problems


def test_a_worker_is_adopted_once_in_a_stack():
    from tests.conftest import config_problems

    def twice(config):
        services = config["chittyos-edge:services"]
        services["project-awareness"]["adopt"] = {"scriptName": "chittyconnect"}
        services["project-awareness"]["code"] = {"source": "live", "reason": "a test"}

    problems = config_problems("production", twice)
    assert any("services.project-awareness.adopt.scriptName:" in p
               and "already used at services.chittyconnect.adopt.scriptName" in p for p in problems), problems
