"""The stack-output contract: the program exports exactly it, and it changes only with a version bump."""

from __future__ import annotations

import copy
import json

import pytest

from chittyos_edge.outputs import compat
from chittyos_edge.outputs_contract import CONTRACT_VERSION, StackOutputs, json_schema

from conftest import ROOT, resource, resources

SCHEMA_FILE = ROOT / "schemas" / "stack-outputs.schema.json"
HISTORY = ROOT / "schemas" / "history"
REGENERATE = "chittyos-edge outputs --schema --out schemas/stack-outputs.schema.json"

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
R2 = "cloudflare:index/r2Bucket:R2Bucket"
D1 = "cloudflare:index/d1Database:D1Database"
QUEUE = "cloudflare:index/queue:Queue"
WORKER = "cloudflare:index/worker:Worker"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"


# ---- the committed schema and the versioning rule ----------------------------------------------

def test_committed_schema_is_the_live_contract():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json_schema(), f"the contract model changed: regenerate with `{REGENERATE}`"
    assert committed["x-contract-version"] == CONTRACT_VERSION


def test_live_contract_is_compatible_with_every_release_of_its_major():
    released = compat.released_schemas(HISTORY)
    assert CONTRACT_VERSION in released, "every contract version has its released schema in schemas/history/"
    assert compat.contract_problems(json_schema(), CONTRACT_VERSION, released) == []


def _live() -> dict:
    return copy.deepcopy(json_schema())


def _service(schema: dict) -> dict:
    return schema["$defs"]["ServiceOutputs"]


def _rename(props: dict, old: str, new: str) -> None:
    props[new] = props.pop(old)


@pytest.mark.parametrize("change, expected", [
    (lambda s: _service(s)["properties"].pop("kvNamespaces"), "services.*.kvNamespaces: removed or renamed"),
    (lambda s: _rename(_service(s)["properties"], "scriptName", "workerName"), "services.*.scriptName: removed"),
    (lambda s: _service(s)["properties"]["hostnames"].update(type="string"), "services.*.hostnames: retyped"),
    (lambda s: _service(s)["properties"]["kvNamespaces"]["additionalProperties"].update(type="integer"),
     "services.*.kvNamespaces.*: retyped"),
    (lambda s: s["$defs"]["TunnelOutputs"]["properties"].pop("accessAud"), "tunnel.accessAud: removed"),
    (lambda s: s["required"].remove("services"), "services: was required, now optional"),
    (lambda s: (s["properties"].__setitem__("region", {"type": "string"}), s["required"].append("region")),
     "region: added as required"),
])
def test_breaking_change_without_major_bump_fails(change, expected):
    released = {CONTRACT_VERSION: _live()}
    changed = _live()
    change(changed)
    problems = compat.contract_problems(changed, CONTRACT_VERSION, released)
    assert any(expected in p and "bump the major version" in p for p in problems), problems
    # a minor bump does not make a breaking change acceptable either
    major, minor = compat._version(CONTRACT_VERSION)
    problems = compat.contract_problems(changed, f"{major}.{minor + 1}", {**released, f"{major}.{minor + 1}": changed})
    assert any(expected in p for p in problems), problems


def test_breaking_change_with_major_bump_passes():
    released = {CONTRACT_VERSION: _live()}
    changed = _live()
    _service(changed)["properties"].pop("kvNamespaces")
    major, _ = compat._version(CONTRACT_VERSION)
    new = f"{major + 1}.0"
    assert compat.contract_problems(changed, new, {**released, new: changed}) == []


def test_added_optional_field_needs_a_minor_bump():
    released = {CONTRACT_VERSION: _live()}
    changed = _live()
    _service(changed)["properties"]["workersDevUrl"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    problems = compat.contract_problems(changed, CONTRACT_VERSION, released)
    assert problems and all("bump the minor version" in p for p in problems), problems
    major, minor = compat._version(CONTRACT_VERSION)
    bumped = f"{major}.{minor + 1}"
    assert compat.contract_problems(changed, bumped, {**released, bumped: changed}) == []
    # ...and the bump needs its released schema
    assert any("has no released schema" in p for p in compat.contract_problems(changed, bumped, released))


def test_descriptions_and_titles_are_not_changes():
    changed = _live()
    _service(changed)["properties"]["scriptName"]["description"] = "reworded"
    changed["title"] = "Renamed"
    assert compat.schema_changes(_live(), changed) == ([], [])


def test_version_never_goes_down():
    problems = compat.contract_problems(_live(), "1.0", {"1.0": _live(), "1.1": _live()})
    assert any("older than the released 1.1" in p for p in problems)


# ---- what the program exports --------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["production", "staging"])
def test_program_exports_exactly_the_contract(plans, stack):
    outputs = plans[stack]["outputs"]
    # standIns is added by `chittyos-edge outputs --source plan`, never exported by the program
    fields = {field.alias for field in StackOutputs.model_fields.values()} - {"standIns"}
    assert set(outputs) == fields, "one stack output per top-level contract field, no more"
    parsed = StackOutputs.model_validate(outputs)
    assert parsed.contract_version == CONTRACT_VERSION and parsed.environment.value == stack
    # only the tunnel token and the Access credentials are secret; the offline plan shows them as placeholders
    assert outputs["tunnelToken"] == "[secret:tunnelToken]"
    assert outputs["accessCredentials"] == "[secret:accessCredentials]"
    assert "[secret" not in json.dumps({k: v for k, v in outputs.items() if k not in ("tunnelToken", "accessCredentials")})


def test_access_credentials_are_a_secret_output_with_the_token_and_its_bindings():
    """The value behind the placeholder: the chittyconnect-worker token's id and secret and their bindings."""
    from chittyos_edge import program
    from chittyos_edge.plan import runtime
    from tests.conftest import PROJECT

    captured: dict = {}

    def capturing():
        outputs = program.main(PROJECT)
        outputs["accessCredentials"].apply(lambda value: captured.update(value))
        return outputs

    plan = runtime.run_plan("production", program=capturing, project=PROJECT)
    assert plan["outputs"]["accessCredentials"] == "[secret:accessCredentials]", "exported as a secret"
    connect = StackOutputs.model_validate({**plan["outputs"], "accessCredentials": captured}).access_credentials
    assert set(connect) == {"chittyconnect"}
    creds = connect["chittyconnect"]
    assert (creds.service_token, creds.client_id_binding, creds.client_secret_binding) == (
        "chittyconnect-worker", "CF_ACCESS_CLIENT_ID", "CF_ACCESS_CLIENT_SECRET")
    assert creds.client_id.endswith(".access")
    assert creds.client_secret == "[secret:1password-connect-chittyconnect-worker-production.clientSecret]"


def _script_binding(binding: dict) -> tuple:
    """(type, name, what it points at) of a binding as the plan records the code's input."""
    value = {"plain_text": "text", "kv_namespace": "namespaceId", "r2_bucket": "bucketName", "d1": "id",
             "queue": "queueName", "durable_object_namespace": "className", "analytics_engine": "dataset"}
    return binding["type"], binding["name"], binding.get(value.get(binding["type"], ""))


def _output_bindings(service: dict) -> set[tuple]:
    found = {("plain_text", n, v) for n, v in service["vars"].items()}
    found |= {("kv_namespace", n, v) for n, v in service["kvNamespaces"].items()}
    found |= {("r2_bucket", n, v) for n, v in service["r2Buckets"].items()}
    found |= {("d1", n, v["id"]) for n, v in service["d1Databases"].items()}
    found |= {("queue", n, v) for n, v in service["queues"].items()}
    found |= {("durable_object_namespace", n, v["className"]) for n, v in service["durableObjects"].items()}
    found |= {("analytics_engine", n, v) for n, v in service["analyticsEngineDatasets"].items()}
    return found | ({("ai", service["ai"], None)} if service["ai"] else set())


def test_outputs_carry_exactly_the_bindings_of_each_uploaded_version(built):
    """For every stack and service whose code this program uploads: what the version is uploaded with
    (secrets aside) is what the outputs tell consumers, bindings the Durable Object host adds included."""
    for stack, plan in built.items():
        versions = {r["inputs"]["workerId"]: r for r in resources(plan, VERSION)}
        assert plan["outputs"]["services"], stack
        for key, service in plan["outputs"]["services"].items():
            version = versions[service["scriptName"]]
            on_version = {_script_binding(b) for b in version["inputs"]["bindings"] if b["type"] != "secret_text"}
            assert _output_bindings(service) == on_version, f"{stack} {key}"


def test_live_code_outputs_publish_the_bindings_its_own_deploy_must_carry(plans, built):
    """A live Worker uploads nothing here: its outputs list the same bindings a build would get."""
    for stack in plans:
        live = plans[stack]["outputs"]["services"]["chittyconnect"]
        assert live == built[stack]["outputs"]["services"]["chittyconnect"]
        assert "SESSION_FALLBACK_KV" in live["kvNamespaces"] and "SESSION_SNAPSHOTS" in live["r2Buckets"]


def test_outputs_name_the_registered_resources(production):
    services = production["outputs"]["services"]
    workers = {r["inputs"]["name"] for r in resources(production, WORKER)}
    buckets = {r["inputs"]["name"] for r in resources(production, R2)}
    queues = {r["inputs"]["queueName"] for r in resources(production, QUEUE)}
    databases = {r["inputs"]["name"] for r in resources(production, D1)}
    assert {s["scriptName"] for s in services.values()} == workers
    for key, service in services.items():
        assert set(service["r2Buckets"].values()) <= buckets, key
        assert set(service["queues"].values()) <= queues, key
        assert {c["queue"] for c in service["queueConsumers"]} <= queues, key
        assert {d["name"] for d in service["d1Databases"].values()} <= databases, key
        assert {d["scriptName"] for d in service["durableObjects"].values()} <= workers, key
    connect = services["chittyconnect"]
    assert connect["scriptName"] == "chittyconnect", "the running Worker, adopted under its live name"
    assert connect["d1Databases"]["DB"] == {"id": "39f76706-5d67-401f-b1bf-9a212de4da0b",
                                             "name": "chittyconnect-production"}
    assert connect["durableObjects"]["SESSION_STATE"] == {"className": "SessionStateDO", "scriptName": "chittyconnect"}
