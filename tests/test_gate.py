"""`chittyos-edge gate` end to end: the real CLI entry point, the pack as a process, the Analyzer
protocol, the exit codes and every output format. Gate runs share the session's pack process
(tests/conftest.py); the first test starts its own, as the CLI does."""

from __future__ import annotations

import copy
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import pytest

from chittyos_edge import cli
from chittyos_edge.gate import client
from chittyos_edge.gate.client import PolicyPackProcess, marshal
from tests.conftest import ROOT, borrow_session_pack, copy_project


def gate(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["gate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def find(plan: dict[str, Any], type_suffix: str, predicate: Callable[[dict[str, Any]], bool] = lambda r: True):
    return next(r for r in plan["resources"] if r["type"].endswith(type_suffix) and predicate(r))


# ---- both stacks pass ----------------------------------------------------------------------

@pytest.mark.own_pack
def test_both_stacks_pass_planned_by_the_gate_itself(capsys):
    code, out, err = gate(capsys, "--stack", "staging", "--stack", "production", "--format", "json")
    report = json.loads(out)
    assert code == 0, out + err
    assert report["passed"] and report["summary"]["mandatory"] == 0
    assert [s["stack"] for s in report["stacks"]] == ["staging", "production"]
    assert all(s["resources"] > 20 for s in report["stacks"])


def test_saved_plans_pass_with_every_format(capsys, tmp_path, plans):
    files = [write(tmp_path, f"{stack}.json", plan) for stack, plan in plans.items()]
    args = ["--plan", files[0], "--plan", files[1]]
    for fmt in ("table", "markdown", "github", "junit", "sarif"):
        code, out, _ = gate(capsys, *args, "--format", fmt)
        assert code == 0, out
    code, out, _ = gate(capsys, *args, "--write", f"markdown={tmp_path / 'summary.md'}",
                        "--write", f"sarif={tmp_path / 'gate.sarif'}")
    assert code == 0 and "PASS" in out
    assert "| stack | source | resources | policies enabled |" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "gate.sarif").read_text())["version"] == "2.1.0"


# ---- mutations of the production plan, end to end ------------------------------------------

def _min_tls_12(plan):
    find(plan, "ZoneSetting", lambda r: r["inputs"]["settingId"] == "min_tls_version")["inputs"]["value"] = "1.2"


def _drop_auth_rate_limit(plan):
    ruleset = find(plan, "ruleset:Ruleset", lambda r: r["inputs"]["phase"] == "http_ratelimit")
    ruleset["inputs"]["rules"] = [rule for rule in ruleset["inputs"]["rules"]
                                  if "/api/auth/" not in rule["expression"]]


def _unprotect_kv(plan):
    find(plan, "WorkersKvNamespace")["protect"] = False


def _staging_kv_in_production(staging):
    def mutate(plan):
        staging_kv = find(staging, "WorkersKvNamespace", lambda r: "sessions" in r["name"])
        staging_id = client_id(staging_kv)
        script = find(plan, "workerVersion:WorkerVersion", lambda r: any(
            b.get("type") == "kv_namespace" for b in r["inputs"]["bindings"]))
        next(b for b in script["inputs"]["bindings"] if b["type"] == "kv_namespace")["namespaceId"] = staging_id
    return mutate


def client_id(record):
    from chittyos_edge.gate.sources import plan_outputs
    return plan_outputs(record)["id"]


def _no_catch_all(plan):
    config = find(plan, "ZeroTrustTunnelCloudflaredConfig")
    config["inputs"]["config"]["ingresses"] = config["inputs"]["config"]["ingresses"][:-1]


def _remove_health_checks(plan):
    plan["resources"] = [r for r in plan["resources"] if not r["type"].endswith("healthcheck:Healthcheck")]


def _no_retain(plan):
    find(plan, "d1Database:D1Database")["retainOnDelete"] = False


MUTATIONS = {
    "min TLS 1.2": (_min_tls_12, "CF-TLS-001"),
    "auth rate limit dropped": (_drop_auth_rate_limit, "CF-RL-001"),
    "KV namespace unprotected": (_unprotect_kv, "CF-DATA-001"),
    "catch-all ingress removed": (_no_catch_all, "CF-TUN-001"),
    "health checks removed": (_remove_health_checks, "CF-MON-001"),
    "D1 database not retained": (_no_retain, "CF-DATA-002"),
}


@pytest.mark.parametrize("what", sorted(MUTATIONS))
def test_a_mutated_production_plan_fails_the_gate(capsys, tmp_path, production, what):
    mutate, rule_id = MUTATIONS[what]
    plan = copy.deepcopy(production)
    mutate(plan)
    code, out, err = gate(capsys, "--plan", write(tmp_path, "production.json", plan), "--format", "github")
    assert code == 1, out + err
    assert re.search(rf"^::error file=Pulumi\.production\.yaml(,line=\d+)?,title={rule_id}::", out, re.M), out


def test_a_staging_kv_id_in_production_fails_the_gate(capsys, tmp_path, production, staging):
    plan = copy.deepcopy(production)
    _staging_kv_in_production(staging)(plan)
    code, out, _ = gate(capsys, "--plan", write(tmp_path, "production.json", plan), "--format", "json")
    findings = json.loads(out)["findings"]
    assert code == 1
    assert any(f["ruleId"] == "CF-ENV-001" and f["enforcement"] == "mandatory" for f in findings)


def test_two_plans_sharing_an_id_fail_the_cross_stack_check(capsys, tmp_path, production, staging):
    shared = copy.deepcopy(staging)
    production_kv = find(production, "WorkersKvNamespace", lambda r: bool(r["importId"]))
    find(shared, "WorkersKvNamespace")["importId"] = production_kv["importId"]
    code, out, _ = gate(capsys, "--plan", write(tmp_path, "production.json", production),
                        "--plan", write(tmp_path, "staging.json", shared), "--format", "json")
    findings = json.loads(out)["findings"]
    assert code == 1
    cross = [f for f in findings if f["ruleId"] == "CF-ENV-003"]
    assert cross and cross[0]["stack"] == "production+staging"
    assert production_kv["importId"].split("/")[-1] in cross[0]["message"]


# ---- a deployed stack: pulumi stack export ---------------------------------------------------

def _export(plan: dict[str, Any]) -> dict[str, Any]:
    """A `pulumi stack export` (deployment v3) of the plan, as it would look once deployed."""
    from chittyos_edge.gate.sources import plan_outputs

    resources = []
    for record in plan["resources"]:
        outputs = copy.deepcopy(plan_outputs(record)) if record["custom"] else {}
        inputs = copy.deepcopy(record["inputs"])
        for path in record["secretInputs"]:  # secrets as the state holds them: encrypted, marked
            for props in (inputs, outputs):
                node, tokens = props, [int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|\.?([^.\[\]]+)", path)]
                for token in tokens[:-1]:
                    node = node[token]
                node[tokens[-1]] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                    "ciphertext": "v1:abc"}
        resources.append({"urn": record["urn"], "custom": record["custom"], "type": record["type"],
                          **({"id": outputs.pop("id")} if record["custom"] else {}),
                          "inputs": inputs, "outputs": outputs, "parent": record["parent"] or "",
                          "protect": record["protect"], "retainOnDelete": record["retainOnDelete"],
                          "dependencies": record["dependencies"],
                          "propertyDependencies": record["propertyDependencies"]})
    resources.insert(0, {"urn": "urn:pulumi:production::chittyos-edge::pulumi:providers:cloudflare::default",
                         "custom": True, "id": "p", "type": "pulumi:providers:cloudflare"})
    return {"version": 3, "deployment": {"manifest": {"time": "2025-10-21T20:54:00Z"}, "resources": resources}}


def test_a_deployed_stack_export_is_gated(capsys, tmp_path, production):
    export = _export(production)
    code, out, _ = gate(capsys, "--state", write(tmp_path, "prod-export.json", export))
    assert code == 0, out
    kv = next(r for r in export["deployment"]["resources"] if r["type"].endswith("WorkersKvNamespace"))
    kv["protect"] = False
    code, out, _ = gate(capsys, "--state", write(tmp_path, "prod-export.json", export))
    assert code == 1 and "CF-DATA-001" in out


# ---- bad input: exit 2, one line, no traceback ---------------------------------------------

@pytest.mark.parametrize("content,expected", [
    ("{not json", "not valid JSON"),
    ('{"formatVersion": 1, "project": "chittyos-edge", "stack": "production", "resources": [{"urn"', "truncated"),
    ("", "empty"),
    ('{"hello": "world"}', "missing formatVersion"),
    ('{"formatVersion": 1, "project": "chittyos-edge", "stack": "qa", "resources": []}', "unknown stack 'qa'"),
    ('{"formatVersion": 1, "project": "other", "stack": "production", "resources": []}', "project 'other'"),
    ('{"version": 3, "deployment": {"resources": []}}', "gate it with --state"),
])
def test_a_bad_plan_file_is_one_clear_line(capsys, tmp_path, content, expected):
    code, out, err = gate(capsys, "--plan", write(tmp_path, "bad.json", content))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and expected.split("'")[0] in err, err


def test_a_foreign_state_file_and_a_missing_file_are_usage_errors(capsys, tmp_path):
    code, _, err = gate(capsys, "--state", write(tmp_path, "x.json", {"formatVersion": 1}))
    assert code == 2 and "gate it with --plan" in err
    code, _, err = gate(capsys, "--plan", str(tmp_path / "absent.json"))
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_an_unknown_stack_is_a_usage_error(capsys):
    code, out, err = gate(capsys, "--stack", "qa")
    assert code == 2 and out == ""
    assert err == ("chittyos-edge: error: unknown stack 'qa'; this project's stacks are production, staging "
                   f"(the Pulumi.<stack>.yaml files in {ROOT})\n")


def test_a_pack_that_fails_to_start_is_one_line(capsys, tmp_path, production):
    project = copy_project(tmp_path / "checkout")
    broken = project.policies_dir
    (broken / "__main__.py").write_text("import no_such_module_for_the_pack\n")
    code, _, err = gate(capsys, "-C", str(project.root), "--plan", write(tmp_path, "production.json", production))
    assert code == 2
    assert "failed to start" in err and "no_such_module_for_the_pack" in err and err.count("\n") == 1


# ---- the client: marshalling and process lifetime ------------------------------------------

def test_secret_inputs_are_rewrapped_and_unknowns_marked_as_the_engine_does():
    from google.protobuf import json_format

    struct = marshal({"bindings": [{"name": "A", "text": "x"}, {"name": "B", "text": "[unknown]"}], "url": "u"},
                     ["bindings[0].text", "url"])
    value = json_format.MessageToDict(struct)
    assert value["url"] == {client.SECRET_SIG_KEY: client.SECRET_SIG, "value": "u"}
    assert value["bindings"][0]["text"] == {client.SECRET_SIG_KEY: client.SECRET_SIG, "value": "x"}
    assert value["bindings"][1]["text"] == client.UNKNOWN_STRING


def test_the_pack_process_is_stopped_when_the_gate_ends():
    with PolicyPackProcess("chittyos-edge", "production") as pack:
        pid = pack.pid
        name, _, policies = pack.info()
        assert name == "chittyos-edge-readiness" and len(policies) >= 19
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ---- output formats ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def failing_report(tmp_path_factory, production, session_pack):
    from chittyos_edge.gate.runner import Source, run_gate

    plan = copy.deepcopy(production)
    _min_tls_12(plan)
    _unprotect_kv(plan)
    path = tmp_path_factory.mktemp("report") / "production.json"
    path.write_text(json.dumps(plan))
    with pytest.MonkeyPatch.context() as monkeypatch:
        borrow_session_pack(monkeypatch, session_pack)
        return run_gate([Source("plan", str(path))])


def test_sarif_is_structurally_valid(failing_report):
    from chittyos_edge.gate.formats import render

    sarif = json.loads(render(failing_report, "sarif"))
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] and all(r["id"] and r["shortDescription"]["text"] for r in rules)
    assert run["results"]
    for result in run["results"]:
        assert result["ruleId"] in {r["id"] for r in rules}
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.production.yaml"


def test_junit_marks_each_failing_rule(failing_report):
    from chittyos_edge.gate.formats import render

    root = ET.fromstring(render(failing_report, "junit").split("?>", 1)[1])
    failed = {case.get("classname") for case in root.iter("testcase") if case.find("failure") is not None}
    assert {"production.CF-TLS-001", "production.CF-DATA-001"} <= failed
    assert int(root.get("failures")) == len(failed)


def test_markdown_and_table_name_rule_resource_and_fix(failing_report):
    from chittyos_edge.gate.formats import render

    markdown = render(failing_report, "markdown")
    assert markdown.startswith("### ❌ Policy gate failed") and "`CF-TLS-001`" in markdown
    assert "How to fix" in markdown and "minTlsVersion" in markdown
    table = render(failing_report, "table")
    assert "MANDATORY  CF-TLS-001" in table and table.rstrip().endswith(
        f"FAIL: {len(failing_report.mandatory)} mandatory violation(s) in production")


def test_an_invalid_policy_config_is_a_usage_error(capsys, tmp_path, production):
    project = copy_project(tmp_path / "checkout")
    config = project.policy_config("production")
    document = json.loads(config.read_text())
    document["bindings-resolve-in-stack"]["environment"] = "prod"
    document["all"] = "strict"
    config.write_text(json.dumps(document))
    plan = write(tmp_path, "production.json", production)
    code, _, err = gate(capsys, "-C", str(project.root), "--plan", plan)
    assert code == 2 and "'strict' is not an enforcement level" in err and "Traceback" not in err
    assert str(config) in err   # the checkout's own policy config, not the installed one
    document["all"] = "mandatory"
    config.write_text(json.dumps(document))
    code, _, err = gate(capsys, "--plan", plan, "-C", str(project.root))
    assert code == 2 and "bindings-resolve-in-stack.environment: 'prod' is not one of" in err


def test_the_gate_rules_take_their_levels_from_the_gate_config(capsys, tmp_path, production):
    project = copy_project(tmp_path / "checkout")
    gate_config = project.policy_config_dir / "production.gate.json"
    gate_config.write_text(json.dumps({"stateful-resources-retained": "advisory"}))
    plan = copy.deepcopy(production)
    _no_retain(plan)
    code, out, _ = gate(capsys, "-C", str(project.root), "--plan", write(tmp_path, "production.json", plan),
                        "--format", "json")
    levels = {f["ruleId"]: f["enforcement"] for f in json.loads(out)["findings"]}
    assert code == 0 and levels == {"CF-DATA-002": "advisory"}
    gate_config.write_text(json.dumps({"zone-min-tls-1-3": "advisory"}))  # a policy of the pack, not of the gate
    code, _, err = gate(capsys, "-C", str(project.root), "--plan", write(tmp_path, "production.json", plan))
    assert code == 2 and "production.gate.json: zone-min-tls-1-3: no such rule here" in err
