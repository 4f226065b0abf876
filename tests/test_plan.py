"""The offline plan: what it captures, that it is stable, and how the CLI fails on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_cloudflare as cloudflare
import yaml

from chittyos_edge import cli
from chittyos_edge.plan import make_plan
from chittyos_edge.plan.runtime import run_plan
from tests.conftest import ROOT, stack_file_config

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
SCRIPT = "cloudflare:index/workersScript:WorkersScript"


def _probe_program():
    """A tiny program exercising every field the plan records."""
    component = pulumi.ComponentResource("chittyos:probe:Probe", "probe")
    kv = cloudflare.WorkersKvNamespace(
        "probe-kv", account_id="0" * 32, title="probe-production",
        opts=pulumi.ResourceOptions(parent=component, protect=True, retain_on_delete=True,
                                    import_=f"{'0' * 32}/{'a' * 32}"))
    script = cloudflare.WorkersScript(
        "probe-script", account_id="0" * 32, script_name="probe-production", content="export default {}",
        main_module="worker.mjs",
        bindings=[{"type": "kv_namespace", "name": "KV", "namespace_id": kv.id},
                  {"type": "secret_text", "name": "TOKEN", "text": pulumi.Output.secret("[secret:token]")}],
        opts=pulumi.ResourceOptions(parent=component, delete_before_replace=True))
    return {"kvId": kv.id, "token": pulumi.Output.secret("[secret:token]"), "script": script.script_name}


def test_capture_records_what_the_engine_sees():
    plan = run_plan("production", program=_probe_program)
    by_name = {r["name"]: r for r in plan["resources"]}
    kv, script, probe = by_name["probe-kv"], by_name["probe-script"], by_name["probe"]

    assert kv["urn"] == "urn:pulumi:production::chittyos-edge::chittyos:probe:Probe$" + KV + "::probe-kv"
    assert kv["parent"] == probe["urn"] and probe["custom"] is False and kv["custom"] is True
    assert (kv["protect"], kv["retainOnDelete"], kv["importId"]) == (True, True, f"{'0' * 32}/{'a' * 32}")
    assert kv["inputs"] == {"accountId": "0" * 32, "title": "probe-production"}

    assert script["deleteBeforeReplace"] is True and script["protect"] is False
    # The secret binding's value travels as a secret; the plan shows the value (a placeholder) and its path.
    assert script["secretInputs"] == ["bindings[1].text"]
    assert script["inputs"]["bindings"][0] == {"name": "KV", "namespaceId": "a" * 32, "type": "kv_namespace"}
    assert script["inputs"]["bindings"][1]["text"] == "[secret:token]"
    assert kv["urn"] in script["dependencies"]
    assert script["propertyDependencies"]["bindings"] == [kv["urn"]]

    # An adopted resource keeps its real id; secret outputs are placeholders.
    assert plan["outputs"] == {"kvId": "a" * 32, "script": "probe-production", "token": "[secret:token]"}


def test_ids_are_stable_and_differ_between_stacks():
    first = run_plan("staging", program=_probe_program)
    again = run_plan("staging", program=_probe_program)
    other = run_plan("production", program=_probe_program)
    assert first == again
    urns = {r["urn"] for r in first["resources"]}
    assert not urns & {r["urn"] for r in other["resources"]}


def test_secure_values_are_redacted_and_marked_secret():
    config = stack_file_config("production")
    config["chittyos-edge:workerSecrets"] = {"chittyconnect": {"CHITTY_ID_TOKEN": {"secure": "v1:c2VjcmV0Y2lwaGVy"}}}
    plan = make_plan("production", file_config=config)
    text = json.dumps(plan)
    assert "v1:c2VjcmV0Y2lwaGVy" not in text
    # ChittyConnect runs live code: its secrets are set through the secrets API resource
    secrets = [r for r in plan["resources"] if r["type"] == "pulumi-python:dynamic/workers:Secrets"
               and r["inputs"]["scriptName"] == "chittyconnect"]
    assert len(secrets) == 1, "the chittyconnect secrets are registered once"
    assert secrets[0]["inputs"]["secrets"]["CHITTY_ID_TOKEN"] == "[secret:workerSecrets.chittyconnect.CHITTY_ID_TOKEN]"
    assert "secrets" in secrets[0]["secretInputs"]


def test_no_stateful_name_or_id_is_shared_between_stacks(plans):
    def identifiers(plan):
        found = set()
        for r in plan["resources"]:
            if r["type"] in (KV, "cloudflare:index/r2Bucket:R2Bucket", "cloudflare:index/d1Database:D1Database",
                             "cloudflare:index/queue:Queue"):
                inputs = r["inputs"]
                found |= {inputs.get(k) for k in ("title", "name", "queueName") if inputs.get(k)}
                if r["importId"]:
                    found.add(r["importId"].split("/")[-1])
        return found

    staging, production = identifiers(plans["staging"]), identifiers(plans["production"])
    assert len(staging) >= 12 and len(production) >= 12, "every store of the documents is planned"
    assert not staging & production


def _run_cli(*args: str, seed: str = "0") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run([sys.executable, "-m", "chittyos_edge", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_two_runs_write_byte_identical_plans(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    run1 = _run_cli("plan", "--stack", "production", "--out", str(first), seed="1")
    run2 = _run_cli("plan", "--stack", "production", "--out", str(second), seed="2")
    assert run1.returncode == 0 and run2.returncode == 0, run1.stderr + run2.stderr
    assert first.read_bytes() == second.read_bytes()
    assert "Plan of chittyos-edge/production" in run1.stdout
    plan = json.loads(first.read_text())
    assert list(plan) == ["formatVersion", "project", "stack", "resources", "outputs"]
    assert set(plan["resources"][1]) == {"urn", "type", "name", "parent", "custom", "inputs", "dependencies",
                                         "propertyDependencies", "protect", "retainOnDelete",
                                         "deleteBeforeReplace", "importId", "secretInputs"}


def _write_stack(tmp_path: Path, stack: str, mutate) -> None:
    """A project in tmp_path (its Pulumi.yaml) whose stack file is a mutated copy of ours."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    mutate(document["config"])
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))


def test_cli_typo_exits_2_with_one_line_naming_the_key(tmp_path, capsys):
    def typo(config):
        config["chittyos-edge:queues"]["github-events"]["messageRetentionPeriode"] = 3600
    _write_stack(tmp_path, "staging", typo)
    code = cli.main(["-C", str(tmp_path), "plan", "--stack", "staging"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    lines = (tmp_path / "Pulumi.staging.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == "messageRetentionPeriode: 3600")
    assert err == [f"chittyos-edge: error: Pulumi.staging.yaml:{line}: chittyos-edge:queues.github-events."
                   "messageRetentionPeriode: unknown key; did you mean 'messageRetentionPeriod'?"]


def test_cli_invalid_value_and_wrong_environment_exit_2(tmp_path, capsys):
    def bad_value(config):
        config["chittyos-edge:queues"]["github-events"]["messageRetentionPeriod"] = 5
    _write_stack(tmp_path, "staging", bad_value)
    assert cli.main(["-C", str(tmp_path), "plan", "--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert "chittyos-edge:queues.github-events.messageRetentionPeriod: Input should be greater than or equal to 60" in err
    assert "Traceback" not in err

    def wrong_env(config):
        config["chittyos-edge:environment"] = "staging"
    _write_stack(tmp_path, "production", wrong_env)
    assert cli.main(["plan", "--stack", "production", "--cwd", str(tmp_path)]) == 2
    assert "chittyos-edge:environment is 'staging' but the stack is 'production'" in capsys.readouterr().err


def test_cli_missing_stack_file_and_malformed_yaml_exit_2(tmp_path, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    assert cli.main(["-C", str(tmp_path), "plan", "--stack", "staging"]) == 2
    assert "unknown stack 'staging'; this project's stacks are none" in capsys.readouterr().err
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  chittyos-edge:zone: [unclosed\n")
    assert cli.main(["-C", str(tmp_path), "plan", "--stack", "staging"]) == 2
    assert "Pulumi.staging.yaml:3:1: not valid YAML" in capsys.readouterr().err


def test_cli_out_with_two_stacks_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["plan", "--stack", "staging", "--stack", "production", "--out", str(tmp_path / "x.json")])
    assert code == 2 and "--out takes one --stack" in capsys.readouterr().err
