"""Worker services: the Worker, its code (live, pinned build, reference), bindings, domains, triggers, consumers."""

from __future__ import annotations

import hashlib

import pytest

from chittyos_edge import naming
from chittyos_edge.config import ConfigError
from chittyos_edge.plan.mocks import digest
from tests.conftest import ROOT as PROJECT_ROOT
from tests.conftest import PINNED_SHA256, config_problems, plan_with, resource, resources, stack_file_config, uploaded_code

WORKER = "cloudflare:index/worker:Worker"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"
DEPLOYMENT = "cloudflare:index/workersDeployment:WorkersDeployment"
SCRIPT = "cloudflare:index/workersScript:WorkersScript"
SECRETS = "pulumi-python:dynamic/workers:Secrets"
KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
DNS = "cloudflare:index/dnsRecord:DnsRecord"
CRON = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
QUEUE = "cloudflare:index/queue:Queue"
ACCOUNT = "0bc21e3a5a9de1a4cc843be9c3e98121"
LIVE = {"staging": "chittyconnect-staging", "production": "chittyconnect"}


def _services(stack: str) -> dict:
    return stack_file_config(stack)["chittyos-edge:services"]


# ---- adoption of the running Workers ----------------------------------------------------------

@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_running_chittyconnect_is_adopted_and_no_second_one_is_created(plans, stack):
    plan = plans[stack]
    worker = resource(plan, WORKER, f"{stack}-chittyconnect-worker")
    assert worker["importId"] == f"{ACCOUNT}/{LIVE[stack]}"
    assert worker["inputs"]["name"] == LIVE[stack]
    names = [r["inputs"]["name"] for r in resources(plan, WORKER)] + [
        r["inputs"]["scriptName"] for r in resources(plan, SCRIPT)]
    assert [n for n in names if n.startswith("chittyconnect")] == [LIVE[stack]], "exactly one ChittyConnect Worker"
    assert worker["retainOnDelete"] is True, "adopted: kept when the stack is destroyed"
    # live code: nothing is uploaded to it
    assert not [r for r in resources(plan, VERSION) + resources(plan, DEPLOYMENT)
                if "chittyconnect" in r["name"]]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_workers_dev_stays_on_while_clients_call_it(plans, stack):
    worker = resource(plans[stack], WORKER, f"{stack}-chittyconnect-worker")
    assert worker["inputs"]["subdomain"] == {"enabled": True}
    reason = _services(stack)["chittyconnect"]["workersDevReason"]
    assert "workers.dev" in reason
    assert resource(plans[stack], WORKER, f"{stack}-project-awareness-worker")["inputs"]["subdomain"] == {"enabled": False}


def test_workers_dev_needs_a_reason():
    def no_reason(config):
        del config["chittyos-edge:services"]["chittyconnect"]["workersDevReason"]

    assert any("services.chittyconnect" in p and "workersDevReason" in p for p in config_problems("staging", no_reason))


def test_an_adopted_worker_keeps_its_live_settings_until_told(monkeypatch):
    from tests.test_adoption import recorded_ignore_changes

    plan = recorded_ignore_changes(monkeypatch, "production", lambda config: None)
    assert resource(plan, WORKER, "production-chittyconnect-worker")["ignoreChanges"] == ["logpush", "observability"]
    assert resource(plan, WORKER, "production-project-awareness-worker")["ignoreChanges"] == []

    def manage(config):
        config["chittyos-edge:services"]["chittyconnect"]["adopt"]["keepLiveSettings"] = False

    plan = recorded_ignore_changes(monkeypatch, "production", manage)
    assert resource(plan, WORKER, "production-chittyconnect-worker")["ignoreChanges"] == []


def test_live_code_needs_the_live_worker():
    def not_adopted(config):
        del config["chittyos-edge:services"]["chittyconnect"]["adopt"]

    problems = config_problems("production", not_adopted)
    assert any("services.chittyconnect" in p and "adopt.scriptName" in p for p in problems)


# ---- Access credentials ---------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["staging", "production"])
def test_live_chittyconnect_gets_its_access_credentials_as_secrets(plans, stack):
    plan = plans[stack]
    secrets = resource(plan, SECRETS, f"{stack}-chittyconnect-secrets")
    values = secrets["inputs"]["secrets"]
    token = resource(plan, "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
                     f"{stack}-tunnel-token-chittyconnect-worker")
    assert values["CF_ACCESS_CLIENT_ID"] == f"{digest('client:' + token['urn'])}.access"
    assert values["CF_ACCESS_CLIENT_SECRET"] == f"[secret:1password-connect-chittyconnect-worker-{stack}.clientSecret]"
    assert "secrets" in secrets["secretInputs"], "the whole secrets map travels as a secret"
    assert secrets["inputs"]["scriptName"] == LIVE[stack]
    assert token["urn"] in secrets["dependencies"] or token["urn"] in secrets["propertyDependencies"].get("secrets", [])
    assert set(_services(stack)["chittyconnect"]["secrets"]) < set(values)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_built_chittyconnect_binds_its_access_credentials_as_secret_text(built, stack):
    version = resource(built[stack], VERSION, f"{stack}-chittyconnect-version-stable")
    positions = {b["name"]: i for i, b in enumerate(version["inputs"]["bindings"])}
    for name in ("CF_ACCESS_CLIENT_ID", "CF_ACCESS_CLIENT_SECRET"):
        binding = version["inputs"]["bindings"][positions[name]]
        assert binding["type"] == "secret_text"
        assert f"bindings[{positions[name]}].text" in version["secretInputs"] or "bindings" in version["secretInputs"]


def test_access_credentials_need_a_service_token_of_the_tunnel():
    def unknown(config):
        config["chittyos-edge:services"]["chittyconnect"]["accessCredentials"]["serviceToken"] = "nobody"

    assert any("services.chittyconnect.accessCredentials.serviceToken" in p
               for p in config_problems("production", unknown))


# ---- uploaded code: versions and the deployment ----------------------------------------------

@pytest.mark.parametrize("stack", ["staging", "production"])
def test_version_inputs_follow_the_service_config(built, stack):
    for key, service in _services(stack).items():
        version = resource(built[stack], VERSION, f"{stack}-{key}-version-stable")
        inputs = version["inputs"]
        worker = resource(built[stack], WORKER, f"{stack}-{key}-worker")
        expected_name = LIVE[stack] if key == "chittyconnect" else naming.script_name(service["scriptName"], stack)
        assert inputs["workerId"] == worker["inputs"]["name"] == expected_name
        assert worker["urn"] in version["dependencies"]
        module = inputs["modules"][0]
        if stack == "staging":
            bundle = f"workers/{key}/worker.mjs"
            assert module["contentSha256"] == hashlib.sha256((PROJECT_ROOT / bundle).read_bytes()).hexdigest()
        else:
            bundle = f"dist/{key}/worker.mjs" if key == "chittyconnect" else service["code"]["bundle"]
            assert module["contentSha256"] == (PINNED_SHA256 if key == "chittyconnect" else service["code"]["sha256"])
        assert module == {"name": "worker.mjs", "contentType": "application/javascript+module",
                          "contentFile": bundle, "contentSha256": module["contentSha256"]}
        assert inputs["mainModule"] == "worker.mjs"
        assert inputs["compatibilityDate"] == service["compatibilityDate"]
        assert inputs["compatibilityFlags"] == service["compatibilityFlags"]
        assert inputs["limits"] == {"cpuMs": service["cpuMs"]}
        assert inputs["placement"] == {"mode": "smart"}
        assert worker["inputs"]["observability"] == {
            "enabled": True, "headSamplingRate": 1,
            "logs": {"enabled": True, "invocationLogs": True, "headSamplingRate": 1}}
        plain = {b["name"]: b["text"] for b in inputs["bindings"] if b["type"] == "plain_text"}
        assert plain == service["vars"]
        deployment = resource(built[stack], DEPLOYMENT, f"{stack}-{key}-deployment")
        assert deployment["inputs"]["strategy"] == "percentage"
        assert deployment["inputs"]["scriptName"] == expected_name
        assert deployment["inputs"]["versions"] == [{"versionId": digest(version["urn"]), "percentage": 100}]
        assert version["urn"] in deployment["propertyDependencies"]["versions"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_secrets_are_secret_text_bindings_from_pulumi_secrets(built, stack):
    version = resource(built[stack], VERSION, f"{stack}-chittyconnect-version-stable")
    bindings = version["inputs"]["bindings"]
    secrets = _services(stack)["chittyconnect"]["secrets"]
    positions = {b["name"]: i for i, b in enumerate(bindings)}
    for name in secrets:
        binding = bindings[positions[name]]
        assert binding == {"type": "secret_text", "name": name, "text": f"[secret:workerSecrets.chittyconnect.{name}]"}
        assert f"bindings[{positions[name]}].text" in version["secretInputs"]
    assert not any(b["type"] == "plain_text" and b["name"] in secrets for b in bindings)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_store_bindings_resolve_to_this_stacks_resources(built, stack):
    plan = built[stack]
    config = stack_file_config(stack)
    for key, service in _services(stack).items():
        version = resource(plan, VERSION, f"{stack}-{key}-version-stable")
        by_name = {b["name"]: b for b in version["inputs"]["bindings"]}
        declared = service["bindings"]
        for binding, kv_key in declared.get("kv", {}).items():
            kv = resource(plan, KV, f"{stack}-data-kv-{kv_key}")
            adopt = config["chittyos-edge:kvNamespaces"][kv_key].get("adopt")
            expected_id = adopt["id"] if adopt else digest(kv["urn"])
            assert by_name[binding] == {"type": "kv_namespace", "name": binding, "namespaceId": expected_id}
            assert kv["urn"] in version["propertyDependencies"]["bindings"]
        for binding, bucket_key in declared.get("r2", {}).items():
            assert by_name[binding] == {"type": "r2_bucket", "name": binding,
                                        "bucketName": naming.bucket_name(bucket_key, stack)}
        for binding, db_key in declared.get("d1", {}).items():
            database = resource(plan, "cloudflare:index/d1Database:D1Database", f"{stack}-storage-d1-{db_key}")
            adopt = config["chittyos-edge:d1Databases"][db_key].get("adopt")
            assert by_name[binding]["type"] == "d1" and by_name[binding]["id"] == (adopt["id"] if adopt else
                                                                                  by_name[binding]["id"])
            assert database["urn"] in version["propertyDependencies"]["bindings"]
            runner = resource(plan, "pulumi-python:dynamic/d1:Migrations", f"{stack}-storage-d1-{db_key}-migrations")
            assert runner["urn"] in version["dependencies"], "the schema is migrated before the code deploys"
        for binding, queue_key in declared.get("queues", {}).items():
            queue = resource(plan, QUEUE, f"{stack}-data-queue-{queue_key}")
            assert by_name[binding] == {"type": "queue", "name": binding, "queueName": queue["inputs"]["queueName"]}
        for binding, dataset in declared.get("analyticsEngine", {}).items():
            assert by_name[binding] == {"type": "analytics_engine", "name": binding,
                                        "dataset": f"{dataset}_{stack}"}
        if declared.get("ai"):
            assert by_name[declared["ai"]] == {"type": "ai", "name": declared["ai"]}


def test_production_analytics_datasets_are_named_for_production(production):
    version = resource(production, VERSION, "production-project-awareness-version-stable")
    datasets = sorted(b["dataset"] for b in version["inputs"]["bindings"] if b["type"] == "analytics_engine")
    assert datasets == ["chittyops_performance_production", "chittyops_security_production", "chittyops_usage_production"]


# ---- domains, routes, triggers, consumers ----------------------------------------------------

@pytest.mark.parametrize("stack", ["staging", "production"])
def test_custom_domains_routes_and_consumers(plans, stack):
    plan = plans[stack]
    for key, service in _services(stack).items():
        worker = resource(plan, WORKER, f"{stack}-{key}-worker")
        script_name = worker["inputs"]["name"]
        code_ready = [r["urn"] for r in resources(plan, DEPLOYMENT) + resources(plan, SECRETS)
                      if r["name"].startswith(f"{stack}-{key}-")]
        assert code_ready, "traffic attaches after the code (or the live Worker's secrets) is in place"
        domains = [r for r in resources(plan, DOMAIN) if r["inputs"]["service"] == script_name]
        assert sorted(d["inputs"]["hostname"] for d in domains) == sorted(service.get("customDomains", []))
        assert all(set(code_ready) <= set(d["dependencies"]) for d in domains)
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


def test_a_route_host_gets_a_proxied_placeholder_record(production):
    record = resource(production, DNS, "production-project-awareness-route-dns-api-chitty-cc")
    assert {k: record["inputs"][k] for k in ("name", "type", "content", "proxied", "ttl")} == {
        "name": "api.chitty.cc", "type": "AAAA", "content": "100::", "proxied": True, "ttl": 1}


def test_route_dns_records_must_be_route_hosts():
    def stray(config):
        config["chittyos-edge:services"]["project-awareness"]["routeDnsRecords"] = ["elsewhere.chitty.cc"]

    assert any("services.project-awareness" in p and "routeDnsRecords" in p for p in config_problems("production", stray))


# ---- code pins ------------------------------------------------------------------------------

def test_unchanged_pin_gives_identical_inputs_and_a_new_pin_a_new_version(production):
    again = plan_with("production", lambda config: None)
    before = resource(production, VERSION, "production-project-awareness-version-stable")["inputs"]
    assert resource(again, VERSION, "production-project-awareness-version-stable")["inputs"] == before

    def repin(config):
        config["chittyos-edge:services"]["project-awareness"]["code"]["sha256"] = "cd" * 32

    changed = resource(plan_with("production", repin), VERSION, "production-project-awareness-version-stable")
    assert changed["inputs"]["modules"][0]["contentSha256"] == "cd" * 32 != before["modules"][0]["contentSha256"]


def test_the_offline_plan_needs_only_the_pinned_hash(production):
    assert not (PROJECT_ROOT / "dist/project-awareness/worker.mjs").exists()
    version = resource(production, VERSION, "production-project-awareness-version-stable")
    assert version["inputs"]["modules"][0]["contentFile"] == "dist/project-awareness/worker.mjs"


@pytest.mark.parametrize("code, key", [
    ({"source": "build", "bundle": "dist/x.mjs", "fetch": "make x"}, "needs sha256"),
    ({"source": "build", "bundle": "dist/x.mjs", "sha256": "AB" * 32, "fetch": "make x"}, "64 lower-case hex"),
    ({"source": "live"}, "needs reason"),
    ({"source": "reference", "bundle": "dist/x.mjs"}, "lives under workers/"),
    ({"source": "reference", "bundle": "workers/../../etc/worker.mjs"}, "use a path inside the project"),
])
def test_code_blocks_are_checked(code, key):
    def mutate(config):
        config["chittyos-edge:services"]["project-awareness"]["code"] = code

    problems = config_problems("staging", mutate)
    assert any("services.project-awareness.code" in p and key in p for p in problems), problems


def test_a_missing_reference_bundle_is_a_config_error_before_anything_is_registered():
    def missing(config):
        config["chittyos-edge:services"]["project-awareness"]["code"]["bundle"] = "workers/nothing/worker.mjs"

    with pytest.raises(ConfigError) as error:
        plan_with("staging", missing)
    assert "chittyos-edge:services.project-awareness.code.bundle: workers/nothing/worker.mjs does not exist" in str(
        error.value)


def test_a_binding_name_used_twice_in_one_script_is_refused():
    def clash(config):
        config["chittyos-edge:durableObjects"]["session-state"]["kvFallbackBinding"] = "IDEMP_KV"

    with pytest.raises(ConfigError, match=r"services.chittyconnect: binding name IDEMP_KV is used twice"):
        plan_with("staging", clash)


def test_options_off_are_left_out_and_a_stateless_worker_is_not_protected():
    def stateless(config):
        service = config["chittyos-edge:services"]["project-awareness"]
        service.update({"placement": "off", "workersDev": True, "workersDevReason": "a test", "crons": ["*/15 * * * *"]})
        del service["cpuMs"]
        del config["chittyos-edge:durableObjects"]["project-awareness"]

    plan = plan_with("production", stateless)
    version = resource(plan, VERSION, "production-project-awareness-version-stable")
    assert "placement" not in version["inputs"] and "limits" not in version["inputs"]
    assert "migrations" not in version["inputs"]
    worker = resource(plan, WORKER, "production-project-awareness-worker")
    assert (worker["protect"], worker["retainOnDelete"]) == (False, False)
    assert worker["inputs"]["subdomain"] == {"enabled": True}
    assert resource(plan, CRON, "production-project-awareness-crons")["inputs"]["schedules"] == [{"cron": "*/15 * * * *"}]
