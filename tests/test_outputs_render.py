"""Consumer formats of the stack outputs: json, env lines, and a wrangler section the real wrangler accepts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tomllib

import pytest

from chittyos_edge import cli
from chittyos_edge.outputs import OutputsError, from_json_text, render_env, render_json, render_wrangler
from chittyos_edge.outputs.render import env_pairs
from chittyos_edge.outputs_contract import StackOutputs
from tests.conftest import ROOT

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"


def _contract(**overrides) -> StackOutputs:
    """A hand-built contract: two services, one consuming a queue, one hosting its own objects."""
    raw = {
        "contractVersion": "1.0", "environment": "staging",
        "services": {
            "api": {
                "scriptName": "api-staging", "hostnames": ["api-staging.example.dev"],
                "compatibilityDate": "2025-01-01", "compatibilityFlags": ["nodejs_compat"],
                "vars": {"MODE": "it's staging"}, "kvNamespaces": {"CACHE": "a" * 32},
                "r2Buckets": {"FILES": "files-staging"},
                "d1Databases": {"DB": {"id": "11111111-2222-3333-4444-555555555555", "name": "db-staging"}},
                "queues": {"JOBS": "jobs-staging"},
                "queueConsumers": [{"queue": "jobs-staging", "maxBatchSize": 5, "maxWaitTimeMs": 2500,
                                    "maxRetries": 2, "retryDelay": 0, "deadLetterQueue": None}],
                "durableObjects": {"ROOM": {"className": "Room", "scriptName": "rooms-staging"}},
                "analyticsEngineDatasets": {"METRICS": "metrics_staging"}, "ai": "AI",
            },
            "rooms": {
                "scriptName": "rooms-staging", "hostnames": [], "compatibilityDate": "2025-01-01",
                "compatibilityFlags": [], "vars": {}, "kvNamespaces": {}, "r2Buckets": {}, "d1Databases": {},
                "queues": {}, "queueConsumers": [], "analyticsEngineDatasets": {}, "ai": None,
                "durableObjects": {"ROOM": {"className": "Room", "scriptName": "rooms-staging"}},
            },
        },
        "tunnel": {"hostname": "tunnel-staging.example.dev", "accessAud": "f" * 64},
        "tunnelToken": "[secret]",
    }
    raw.update(overrides)
    return StackOutputs.model_validate(raw)


# ---- renderers on a hand-built contract -----------------------------------------------------------

def test_wrangler_section_uses_wranglers_keys():
    text = render_wrangler(_contract(), "api", source="a test")
    assert text.startswith("# [env.staging] of the api Worker")
    env = tomllib.loads(text)["env"]["staging"]
    assert env["name"] == "api-staging"
    assert env["kv_namespaces"] == [{"binding": "CACHE", "id": "a" * 32}]
    assert env["r2_buckets"] == [{"binding": "FILES", "bucket_name": "files-staging"}]
    assert env["d1_databases"] == [{"binding": "DB", "database_name": "db-staging",
                                    "database_id": "11111111-2222-3333-4444-555555555555"}]
    assert env["durable_objects"]["bindings"] == [{"name": "ROOM", "class_name": "Room",
                                                   "script_name": "rooms-staging"}]
    assert env["queues"]["producers"] == [{"binding": "JOBS", "queue": "jobs-staging"}]
    assert env["queues"]["consumers"] == [{"queue": "jobs-staging", "max_batch_size": 5, "max_batch_timeout": 2.5,
                                           "max_retries": 2, "retry_delay": 0}]
    assert env["analytics_engine_datasets"] == [{"binding": "METRICS", "dataset": "metrics_staging"}]
    assert env["ai"] == {"binding": "AI"}
    assert env["vars"] == {"MODE": "it's staging"}
    # the host's own classes are local to it: no script_name
    rooms = tomllib.loads(render_wrangler(_contract(), "rooms", source="a test"))["env"]["staging"]
    assert rooms["durable_objects"]["bindings"] == [{"name": "ROOM", "class_name": "Room"}]
    assert "kv_namespaces" not in rooms and "queues" not in rooms


def test_wrangler_needs_one_service_when_there_are_several():
    with pytest.raises(OutputsError, match=r"pick it with --service \(api, rooms\)"):
        render_wrangler(_contract(), None, source="a test")
    with pytest.raises(OutputsError, match="--service 'nope' is not a service of the staging stack"):
        render_wrangler(_contract(), "nope", source="a test")


def test_env_lines_are_shell_safe_and_named_by_service_and_binding():
    text = render_env(_contract())
    pairs = dict(env_pairs(_contract()))
    assert pairs["API_KV_CACHE_ID"] == "a" * 32
    assert pairs["API_D1_DB_ID"] == "11111111-2222-3333-4444-555555555555"
    assert pairs["API_QUEUE_JOBS_NAME"] == "jobs-staging"
    assert pairs["API_DO_ROOM_SCRIPT"] == "rooms-staging"
    assert pairs["TUNNEL_TOKEN"] == "[secret]"
    assert "API_VAR_MODE='it'\"'\"'s staging'\n" in text
    # a secret the source did not reveal is never exported as a value: the line says why it is missing
    assert "# TUNNEL_TOKEN left out: a secret the source did not reveal" in text
    assert not [line for line in text.splitlines() if line.startswith("TUNNEL_TOKEN=")]
    # the lines are what a shell sources
    shell = subprocess.run(["sh", "-c", 'set -a; . /dev/stdin; printf %s "$API_VAR_MODE|${TUNNEL_TOKEN-unset}"'],
                           input=text, capture_output=True, text=True, check=True)
    assert shell.stdout == "it's staging|unset"


def test_stand_ins_are_listed_in_json_and_marked_in_wrangler_and_env():
    outputs = _contract(standIns=["services.api.kvNamespaces.CACHE", "tunnel.accessAud"])
    assert json.loads(render_json(outputs))["standIns"] == ["services.api.kvNamespaces.CACHE", "tunnel.accessAud"]
    assert json.loads(render_json(outputs, "rooms"))["standIns"] == ["tunnel.accessAud"]
    assert "standIns" not in json.loads(render_json(_contract()))   # real outputs have none
    wrangler = render_wrangler(outputs, "api", source="a test")
    marked = [line for line in wrangler.splitlines() if line.endswith("not real until the first `pulumi up`")]
    assert marked == [f'    {{ binding = "CACHE", id = "{"a" * 32}" }},  # stand-in: made up by the offline plan, '
                      "not real until the first `pulumi up`"]
    assert tomllib.loads(wrangler)["env"]["staging"]["kv_namespaces"] == [{"binding": "CACHE", "id": "a" * 32}]
    env = render_env(outputs, "api").splitlines()
    assert env[env.index(f"API_KV_CACHE_ID={'a' * 32}") - 1].startswith("# API_KV_CACHE_ID: stand-in")
    assert env[env.index(f"TUNNEL_ACCESS_AUD={'f' * 64}") - 1].startswith("# TUNNEL_ACCESS_AUD: stand-in")


def test_env_refuses_two_outputs_on_one_variable():
    outputs = _contract()
    clash = outputs.model_copy(update={"services": {**outputs.services, "API": outputs.services["api"]}})
    with pytest.raises(OutputsError, match="two outputs map to the environment variable API_SCRIPT_NAME"):
        env_pairs(clash)


def test_json_is_the_contract_and_filters_by_service():
    document = json.loads(render_json(_contract(), "rooms"))
    assert list(document["services"]) == ["rooms"]
    assert document["tunnel"]["accessAud"] == "f" * 64
    assert StackOutputs.model_validate(document).services["rooms"].script_name == "rooms-staging"


def test_stdin_outputs_are_validated():
    good = render_json(_contract())
    assert from_json_text(good, stack="staging").tunnel.hostname == "tunnel-staging.example.dev"
    with pytest.raises(OutputsError, match="stdin: not JSON"):
        from_json_text("{oops", stack="staging")
    with pytest.raises(OutputsError, match="outputs of the 'staging' stack, not 'production'"):
        from_json_text(good, stack="production")
    with pytest.raises(OutputsError, match="no 'contractVersion' output"):
        from_json_text('{"environment": "staging"}', stack="staging")
    with pytest.raises(OutputsError, match="output services.api.kvNamespaces"):
        broken = json.loads(good)
        broken["services"]["api"]["kvNamespaces"] = ["a"]
        from_json_text(json.dumps(broken), stack="staging")
    newer_major = json.loads(good) | {"contractVersion": "2.0"}
    with pytest.raises(OutputsError, match="follow contract 2.0, this chittyos-edge reads 1.x"):
        from_json_text(json.dumps(newer_major), stack="staging")
    newer_minor = json.loads(good) | {"contractVersion": "1.7", "somethingNew": {"x": 1}}
    assert from_json_text(json.dumps(newer_minor), stack="staging").contract_version == "1.7"


# ---- the command ---------------------------------------------------------------------------------

def test_cli_stdin_with_show_secrets_prints_the_secret(monkeypatch, capsys, production):
    shown = dict(production["outputs"], tunnelToken="eyJhIjoiYWNjb3VudCJ9")   # as --show-secrets prints it
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(shown)))
    assert cli.main(["outputs", "--stack", "production", "--stdin", "--format", "env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "TUNNEL_TOKEN=eyJhIjoiYWNjb3VudCJ9" in lines
    assert "CHITTYCONNECT_KV_IDEMP_KV_ID=ea43bc974b894701a069e4804be765ba" in lines
    assert "CHITTYCONNECT_D1_DB_ID=39f76706-5d67-401f-b1bf-9a212de4da0b" in lines


def test_cli_errors_are_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
    assert cli.main(["outputs", "--stack", "staging", "--stdin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chittyos-edge: error: stdin: not JSON") and err.count("\n") == 1
    assert cli.main(["outputs", "--format", "env"]) == 2
    assert "--stack is required" in capsys.readouterr().err
    # the default source is the deployed stack's state: in a project whose Pulumi.yaml names no
    # backend, without --backend or $PULUMI_BACKEND_URL, say how to name one
    (tmp_path / "Pulumi.yaml").write_text("name: chittyos-edge\nruntime: python\n")
    assert cli.main(["-C", str(tmp_path), "outputs", "--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert "--backend URL or set PULUMI_BACKEND_URL" in err and "--source plan" in err and err.count("\n") == 1
    assert cli.main(["outputs", "--stack", "staging", "--stdin", "--source", "plan"]) == 2
    assert "contradicts --source plan" in capsys.readouterr().err


def test_cli_plan_source_refuses_stand_ins_in_wrangler_and_env(capsys):
    for fmt in ("wrangler", "env"):
        assert cli.main(["outputs", "-s", "staging", "--source", "plan", "--format", fmt,
                         "--service", "chittyconnect"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and "stand-ins the offline plan made up" in err and "--allow-stand-ins" in err, err
        assert "services.chittyconnect.kvNamespaces.API_KEYS" in err


def test_cli_plan_source_marks_stand_ins_and_never_exports_a_secret_placeholder(capsys):
    assert cli.main(["outputs", "-s", "staging", "--source", "plan", "--format", "env", "--service", "chittyconnect",
                     "--allow-stand-ins"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("TUNNEL_TOKEN=") or "[secret" in line.split("#")[0]]
    assert "CHITTYCONNECT_SCRIPT_NAME=chittyconnect-staging" in lines
    assert not [line for line in lines if line.startswith("PROJECT_AWARENESS_")]
    api_keys = next(i for i, line in enumerate(lines) if line.startswith("CHITTYCONNECT_KV_API_KEYS_ID="))
    assert lines[api_keys - 1].startswith("# CHITTYCONNECT_KV_API_KEYS_ID: stand-in")
    # staging adopts its D1 database: its id is real, one stand-in fewer than with a new database
    assert "warning: 6 id(s) from the offline plan (--source plan) are stand-ins" in err
    assert "TUNNEL_TOKEN left out" in err


def test_cli_plan_json_lists_stand_ins_and_they_travel_through_stdin(monkeypatch, capsys, production):
    assert cli.main(["outputs", "-s", "production", "--source", "plan"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    # adopted ids are real; the ones the offline plan made up are listed
    assert "services.chittyconnect.kvNamespaces.IDEMP_KV" not in document["standIns"]
    assert "services.chittyconnect.d1Databases.DB.id" not in document["standIns"]
    assert {"services.chittyconnect.kvNamespaces.SESSION_FALLBACK_KV", "services.project-awareness.kvNamespaces."
            "SESSION_STORE", "tunnel.accessAud"} <= set(document["standIns"])
    assert "stand-ins" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(out))
    assert cli.main(["outputs", "-s", "production", "--source", "stdin", "--format", "wrangler",
                     "--service", "project-awareness"]) == 2
    assert "--allow-stand-ins" in capsys.readouterr().err


# ---- the real wrangler accepts the production sections ---------------------------------------------

def _wrangler_dry_run(project, section: str, worker_name: str, classes: list[str]) -> subprocess.CompletedProcess:
    assert WRANGLER.exists(), "wrangler is missing: run `npm ci` (package.json pins it)"
    exports = "".join(f"export class {c} {{ constructor(state, env) {{}} async fetch() {{ return new Response('') }} }}\n"
                      for c in classes)
    (project / "index.js").write_text("export default { async fetch() { return new Response('ok') } };\n" + exports)
    (project / "wrangler.toml").write_text(
        f'name = "{worker_name}"\nmain = "index.js"\ncompatibility_date = "2025-01-01"\n\n' + section)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}
    env.update(HOME=str(project / "home"), WRANGLER_SEND_METRICS="false", CI="true", NO_COLOR="1",
               WRANGLER_LOG_PATH=str(project / "logs"))
    return subprocess.run([str(WRANGLER), "deploy", "--dry-run", "--env", "production", "--outdir", "dist"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_wrangler_accepts_the_production_sections(tmp_path, capsys, production, staging):
    out_dir = tmp_path / "sections"
    assert cli.main(["outputs", "--stack", "production", "--source", "plan", "--allow-stand-ins",
                     "--format", "wrangler", "--out-dir", str(out_dir)]) == 0
    capsys.readouterr()
    staging_ids = {i for s in staging["outputs"]["services"].values()
                   for i in [*s["kvNamespaces"].values(), *(d["id"] for d in s["d1Databases"].values())]}
    for key, service in production["outputs"]["services"].items():
        section = (out_dir / f"{key}.production.wrangler.toml").read_text()
        project = tmp_path / key
        project.mkdir()
        classes = [d["className"] for d in service["durableObjects"].values()]
        result = _wrangler_dry_run(project, section, key, classes)
        log = result.stdout + result.stderr
        assert result.returncode == 0, log
        assert "--dry-run: exiting now." in log and "Unexpected fields" not in log, log
        for binding, namespace_id in service["kvNamespaces"].items():
            assert f"env.{binding} ({namespace_id})" in log, log
        for binding, bucket in service["r2Buckets"].items():
            assert f"env.{binding} ({bucket})" in log, log
        for binding, database in service["d1Databases"].items():
            assert f"env.{binding} ({database['name']})" in log, log
        for binding in service["durableObjects"]:
            assert f"env.{binding} (" in log, log
        parsed = tomllib.loads(section)["env"]["production"]
        assert parsed["name"] == service["scriptName"]
        ids = {n["id"] for n in parsed.get("kv_namespaces", [])} | {d["database_id"] for d in
                                                                   parsed.get("d1_databases", [])}
        assert ids and not ids & staging_ids, "a production section names a staging id"
    text = (out_dir / "chittyconnect.production.wrangler.toml").read_text()
    connect = tomllib.loads(text)["env"]["production"]
    adopted = {"ea43bc974b894701a069e4804be765ba", "d8051882226b470ba10035b30447a8b7",
               "3a29a9de28c84b7e8b87070cbf006415", "1ab2c1114f5c4e248b8eba157615a125"}
    fallback = {n["binding"]: n["id"] for n in connect["kv_namespaces"]}.pop("SESSION_FALLBACK_KV")
    assert {n["id"] for n in connect["kv_namespaces"]} == adopted | {fallback}
    # the adopted ids are real; the Durable Object host's new fallback namespace is a marked stand-in
    assert [line for line in text.splitlines() if "# stand-in" in line and "id = " in line] == [
        line for line in text.splitlines() if f'"{fallback}"' in line]
    assert connect["d1_databases"][0]["database_id"] == "39f76706-5d67-401f-b1bf-9a212de4da0b"
