"""Worker services: the script's wire inputs, its bindings resolved in-stack, domains, triggers, consumers."""

from __future__ import annotations

import hashlib

import pytest

from chittyos_edge import naming
from chittyos_edge.config import ConfigError
from chittyos_edge.plan.mocks import digest
from tests.conftest import ROOT, plan_with, resource, resources, stack_file_config

SCRIPT = "cloudflare:index/workersScript:WorkersScript"
KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
CRON = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
SUBDOMAIN = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
QUEUE = "cloudflare:index/queue:Queue"


def _services(stack: str) -> dict:
    return stack_file_config(stack)["chittyos-edge:services"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_script_inputs_follow_the_service_config(plans, stack):
    for key, service in _services(stack).items():
        script = resource(plans[stack], SCRIPT, f"{stack}-{key}-script")
        inputs = script["inputs"]
        bundle = ROOT / service["bundle"]
        assert inputs["scriptName"] == naming.script_name(service["scriptName"], stack)
        assert inputs["contentFile"] == service["bundle"]
        assert inputs["contentSha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
        assert inputs["mainModule"] == "worker.mjs"
        assert inputs["compatibilityDate"] == service["compatibilityDate"]
        assert inputs["compatibilityFlags"] == service["compatibilityFlags"]
        assert inputs["limits"] == {"cpuMs": service["cpuMs"]}
        assert inputs["placement"] == {"mode": "smart"}
        assert inputs["observability"] == {"enabled": True, "headSamplingRate": 1,
                                           "logs": {"enabled": True, "invocationLogs": True, "headSamplingRate": 1}}
        plain = {b["name"]: b["text"] for b in inputs["bindings"] if b["type"] == "plain_text"}
        assert plain == service["vars"]
        subdomain = resource(plans[stack], SUBDOMAIN, f"{stack}-{key}-workers-dev")
        assert subdomain["inputs"] == {"accountId": inputs["accountId"], "scriptName": inputs["scriptName"],
                                       "enabled": False}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_secrets_are_secret_text_bindings_from_pulumi_secrets(plans, stack):
    script = resource(plans[stack], SCRIPT, f"{stack}-chittyconnect-script")
    bindings = script["inputs"]["bindings"]
    secrets = _services(stack)["chittyconnect"]["secrets"]
    positions = {b["name"]: i for i, b in enumerate(bindings)}
    for name in secrets:
        binding = bindings[positions[name]]
        assert binding == {"type": "secret_text", "name": name, "text": f"[secret:workerSecrets.chittyconnect.{name}]"}
        assert f"bindings[{positions[name]}].text" in script["secretInputs"]
    assert not any(b["type"] == "plain_text" and b["name"] in secrets for b in bindings)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_store_bindings_resolve_to_this_stacks_resources(plans, stack):
    plan = plans[stack]
    config = stack_file_config(stack)
    for key, service in _services(stack).items():
        script = resource(plan, SCRIPT, f"{stack}-{key}-script")
        by_name = {b["name"]: b for b in script["inputs"]["bindings"]}
        declared = service["bindings"]
        for binding, kv_key in declared.get("kv", {}).items():
            kv = resource(plan, KV, f"{stack}-data-kv-{kv_key}")
            adopt = config["chittyos-edge:kvNamespaces"][kv_key].get("adopt")
            expected_id = adopt["id"] if adopt else digest(kv["urn"])
            assert by_name[binding] == {"type": "kv_namespace", "name": binding, "namespaceId": expected_id}
            assert kv["urn"] in script["propertyDependencies"]["bindings"]
        for binding, bucket_key in declared.get("r2", {}).items():
            assert by_name[binding] == {"type": "r2_bucket", "name": binding,
                                        "bucketName": naming.bucket_name(bucket_key, stack)}
        for binding, db_key in declared.get("d1", {}).items():
            database = resource(plan, "cloudflare:index/d1Database:D1Database", f"{stack}-storage-d1-{db_key}")
            assert by_name[binding]["type"] == "d1" and by_name[binding]["id"]
            assert database["urn"] in script["propertyDependencies"]["bindings"]
            runner = resource(plan, "pulumi-python:dynamic/d1:Migrations", f"{stack}-storage-d1-{db_key}-migrations")
            assert runner["urn"] in script["dependencies"], "the schema is migrated before the code deploys"
        for binding, queue_key in declared.get("queues", {}).items():
            queue = resource(plan, QUEUE, f"{stack}-data-queue-{queue_key}")
            assert by_name[binding] == {"type": "queue", "name": binding, "queueName": queue["inputs"]["queueName"]}
        for binding, dataset in declared.get("analyticsEngine", {}).items():
            assert by_name[binding] == {"type": "analytics_engine", "name": binding,
                                        "dataset": f"{dataset}_{stack}"}
        if declared.get("ai"):
            assert by_name[declared["ai"]] == {"type": "ai", "name": declared["ai"]}


def test_production_analytics_datasets_are_named_for_production(production):
    script = resource(production, SCRIPT, "production-project-awareness-script")
    datasets = sorted(b["dataset"] for b in script["inputs"]["bindings"] if b["type"] == "analytics_engine")
    assert datasets == ["chittyops_performance_production", "chittyops_security_production", "chittyops_usage_production"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_custom_domains_routes_and_consumers(plans, stack):
    plan = plans[stack]
    for key, service in _services(stack).items():
        script_name = naming.script_name(service["scriptName"], stack)
        domains = [r for r in resources(plan, DOMAIN) if r["inputs"]["service"] == script_name]
        assert sorted(d["inputs"]["hostname"] for d in domains) == sorted(service.get("customDomains", []))
        routes = [r for r in resources(plan, ROUTE) if r["inputs"]["script"] == script_name]
        assert sorted(r["inputs"]["pattern"] for r in routes) == sorted(service.get("routes", []))
        for consumer in service.get("queueConsumers", []):
            registered = resource(plan, CONSUMER, f"{stack}-{key}-consumer-{consumer['queue']}")
            queue = resource(plan, QUEUE, f"{stack}-data-queue-{consumer['queue']}")
            dlq = resource(plan, QUEUE, f"{stack}-data-queue-{consumer['deadLetterQueue']}")
            assert registered["inputs"] == {
                "accountId": queue["inputs"]["accountId"], "queueId": registered["inputs"]["queueId"],
                "type": "worker", "scriptName": script_name, "deadLetterQueue": dlq["inputs"]["queueName"],
                "settings": {"batchSize": consumer["batchSize"], "maxRetries": consumer["maxRetries"],
                             "maxWaitTimeMs": consumer["maxWaitTimeMs"], "retryDelay": consumer["retryDelay"]}}
            assert queue["urn"] in registered["propertyDependencies"]["queueId"]
    production_routes = [r["inputs"]["pattern"] for r in resources(plans["production"], ROUTE)]
    assert production_routes == ["api.chitty.cc/project-awareness/*"]


def test_unchanged_bundle_gives_identical_inputs_and_a_changed_one_a_new_hash(staging):
    again = plan_with("staging", lambda config: None)
    before = resource(staging, SCRIPT, "staging-chittyconnect-script")["inputs"]
    assert resource(again, SCRIPT, "staging-chittyconnect-script")["inputs"] == before

    def other_bundle(config):
        config["chittyos-edge:services"]["chittyconnect"]["bundle"] = "workers/project-awareness/worker.mjs"

    changed = resource(plan_with("staging", other_bundle), SCRIPT, "staging-chittyconnect-script")["inputs"]
    other = ROOT / "workers/project-awareness/worker.mjs"
    assert changed["contentSha256"] == hashlib.sha256(other.read_bytes()).hexdigest() != before["contentSha256"]


def test_missing_bundle_is_a_config_error_before_anything_is_registered():
    def missing(config):
        config["chittyos-edge:services"]["chittyconnect"]["bundle"] = "dist/chittyconnect.mjs"

    with pytest.raises(ConfigError) as error:
        plan_with("staging", missing)
    assert "chittyos-edge:services.chittyconnect.bundle: dist/chittyconnect.mjs does not exist" in str(error.value)


def test_bundle_outside_the_project_is_refused():
    def escape(config):
        config["chittyos-edge:services"]["chittyconnect"]["bundle"] = "workers/../../etc/worker.mjs"

    with pytest.raises(ConfigError, match="services.chittyconnect.bundle: use a path inside the project"):
        plan_with("staging", escape)


def test_a_binding_name_used_twice_in_one_script_is_refused():
    def clash(config):
        config["chittyos-edge:durableObjects"]["session-state"]["kvFallbackBinding"] = "IDEMP_KV"

    with pytest.raises(ConfigError, match=r"services.chittyconnect: binding name IDEMP_KV is used twice"):
        plan_with("staging", clash)


def test_options_off_are_left_out_and_a_stateless_worker_is_not_protected():
    def stateless(config):
        service = config["chittyos-edge:services"]["project-awareness"]
        service.update({"placement": "off", "workersDev": True, "crons": ["*/15 * * * *"]})
        del service["cpuMs"]
        del config["chittyos-edge:durableObjects"]["project-awareness"]

    plan = plan_with("production", stateless)
    script = resource(plan, SCRIPT, "production-project-awareness-script")
    assert "placement" not in script["inputs"] and "limits" not in script["inputs"]
    assert "migrations" not in script["inputs"]
    assert (script["protect"], script["retainOnDelete"]) == (False, False)
    assert resource(plan, SUBDOMAIN, "production-project-awareness-workers-dev")["inputs"]["enabled"] is True
    assert resource(plan, CRON, "production-project-awareness-crons")["inputs"]["schedules"] == [{"cron": "*/15 * * * *"}]
