"""The stack-output contract: the program exports exactly it, and it changes only with a version bump."""

from __future__ import annotations

import copy
import json

import pytest

from chittyos_edge.outputs import compat
from chittyos_edge.outputs_contract import CONTRACT_VERSION, StackOutputs, json_schema
from chittyos_edge.plan.runtime import PROJECT_ROOT

from conftest import resource, resources

SCHEMA_FILE = PROJECT_ROOT / "schemas" / "stack-outputs.schema.json"
HISTORY = PROJECT_ROOT / "schemas" / "history"
REGENERATE = "chittyos-edge outputs --schema --out schemas/stack-outputs.schema.json"

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
R2 = "cloudflare:index/r2Bucket:R2Bucket"
D1 = "cloudflare:index/d1Database:D1Database"
QUEUE = "cloudflare:index/queue:Queue"
SCRIPT = "cloudflare:index/workersScript:WorkersScript"


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
    fields = {field.alias for field in StackOutputs.model_fields.values()}
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

    captured: dict = {}

    def capturing():
        outputs = program.main()
        outputs["accessCredentials"].apply(lambda value: captured.update(value))
        return outputs

    plan = runtime.run_plan("production", program=capturing)
    assert plan["outputs"]["accessCredentials"] == "[secret:accessCredentials]", "exported as a secret"
    connect = StackOutputs.model_validate({**plan["outputs"], "accessCredentials": captured}).access_credentials
    assert set(connect) == {"chittyconnect"}
    creds = connect["chittyconnect"]
    assert (creds.service_token, creds.client_id_binding, creds.client_secret_binding) == (
        "chittyconnect-worker", "CF_ACCESS_CLIENT_ID", "CF_ACCESS_CLIENT_SECRET")
    assert creds.client_id.endswith(".access")
    assert creds.client_secret == "[secret:1password-connect-chittyconnect-worker-production.clientSecret]"
