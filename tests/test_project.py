"""The project the user stands in: found like `pulumi` finds it, and every path taken from it.

The acceptance case of the new-user review: a second checkout with a weakened setting, run with
the FIRST checkout's console script, must be the one planned and gated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chittyos_edge import cli
from chittyos_edge.project import Project, ProjectError
from chittyos_edge.usage import selected_stacks
from tests.conftest import ROOT, copy_project

ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"


def _console_script() -> list[str]:
    """This checkout's `chittyos-edge` (the venv's console script). `python -P` is the fallback:
    without -P, `python -m` would import the package from the working directory instead."""
    script = Path(sys.executable).with_name("chittyos-edge")
    return [str(script)] if script.is_file() else [sys.executable, "-P", "-m", "chittyos_edge"]


def _project_file(folder: Path, name: str = "chittyos-edge") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump({"name": name, "runtime": "python"}))
    return folder


# ---- discovery -------------------------------------------------------------------------------------

def test_discovery_walks_up_to_the_nearest_pulumi_yaml(tmp_path):
    root = _project_file(tmp_path / "checkout")
    for stack in ("production", "staging", "dev"):
        (root / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (root / "Pulumi.yml").write_text("")          # not a stack file
    deep = root / "workers" / "chittyconnect"
    deep.mkdir(parents=True)
    project = Project.discover(deep)
    assert project.root == root.resolve() and project.name == "chittyos-edge"
    assert project.stacks() == ("dev", "production", "staging")
    assert project.stack_file("dev") == root.resolve() / "Pulumi.dev.yaml"
    assert project.path("workers/x.mjs") == root.resolve() / "workers" / "x.mjs"
    assert project.policy_config("dev") == root.resolve() / "policies" / "config" / "dev.json"
    assert project.stack("organization/chittyos-edge/dev") == "dev"   # fully qualified, as pulumi names it
    with pytest.raises(ProjectError, match=r"unknown stack 'qa'; this project's stacks are dev, production, staging"):
        project.stack("qa")


def test_stack_files_follow_stack_config_dir(tmp_path):
    root = _project_file(tmp_path)
    (root / "Pulumi.yaml").write_text("name: chittyos-edge\nruntime: python\nstackConfigDir: stacks\n")
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.qa.yaml").write_text("config: {}\n")
    project = Project.discover(root)
    assert project.stacks() == ("qa",) and project.stack_file("qa") == root.resolve() / "stacks" / "Pulumi.qa.yaml"


def test_the_cli_refuses_no_project_and_another_project_in_one_line(tmp_path, capsys):
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    assert cli.main(["-C", str(nowhere), "plan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Pulumi.yaml in" in err and "-C DIR" in err
    other = _project_file(tmp_path / "other", name="website")
    assert cli.main(["plan", "-C", str(other / ".")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the project 'website', not 'chittyos-edge'" in err
    assert cli.main(["-C", str(tmp_path / "absent"), "plan"]) == 2
    assert "-C " in capsys.readouterr().err
    # the old spelling still works, as -C, with a warning
    assert cli.main(["--project-dir", str(nowhere), "plan"]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert "--project-dir is deprecated; use -C/--cwd DIR" in warning and "no Pulumi.yaml in" in error


def _args(stack=None) -> argparse.Namespace:
    return argparse.Namespace(stack=stack)


def test_stacks_come_from_flags_then_pulumi_stack_then_every_stack(monkeypatch):
    project = Project.discover()
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    assert selected_stacks(_args(), project, default_all=True) == ["production", "staging"]
    assert selected_stacks(_args(), project) == []
    monkeypatch.setenv("PULUMI_STACK", "staging")
    assert selected_stacks(_args(), project, default_all=True) == ["staging"]
    # an explicit flag wins; repeats are dropped, order kept
    assert selected_stacks(_args(["production", "staging", "production"]), project) == ["production", "staging"]
    with pytest.raises(ProjectError, match="unknown stack 'prod'; this project's stacks are production, staging"):
        selected_stacks(_args(["prod"]), project)


# ---- the command line --------------------------------------------------------------------------------

def test_bare_command_prints_help_and_version_is_known(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chittyos-edge") and "examples:" in out and "exit codes:" in out
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "chittyos-edge 0.1.0"


@pytest.mark.parametrize("command", ["plan", "gate", "readiness", "outputs"])
def test_every_help_has_examples_exit_codes_and_the_shared_options(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n  chittyos-edge" in out and "exit codes:\n  0  " in out and "\n  2  " in out
    assert "-s STACK, --stack STACK" in out and "-C DIR, --cwd DIR" in out


def test_plan_to_stdout_writes_only_json_and_the_summary_to_stderr(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PULUMI_STACK", "production")
    monkeypatch.chdir(tmp_path)   # -C after the subcommand names the project
    assert cli.main(["plan", "-s", "staging", "--out", "-", "-C", str(ROOT)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["stack"] == "staging"            # the flag wins over PULUMI_STACK
    assert err.startswith("Plan of chittyos-edge/staging:")
    assert not (tmp_path / "-").exists() and not (ROOT / "-").exists()
    assert Path.cwd() == tmp_path                            # -C does not leak out of the command


# ---- acceptance: a second checkout, the first checkout's console script ---------------------------------

def test_a_second_checkout_is_planned_and_gated_with_its_own_files(tmp_path):
    copy = copy_project(tmp_path / "second checkout")
    # a weakened setting in the stack file, a migration of its own, a pack of its own
    stack_file = copy.stack_file("production")
    text = stack_file.read_text()
    assert text.count('minTlsVersion: "1.3"') == 1
    stack_file.write_text(text.replace('minTlsVersion: "1.3"', 'minTlsVersion: "1.2"'))
    # (production's ChittyConnect runs live code and Project Awareness a pinned build: no bundle file
    # feeds the production plan, the migration files do)
    migration = copy.path("migrations/chittyconnect/0099_second_checkout.sql")
    migration.write_text("CREATE TABLE IF NOT EXISTS second_checkout (id INTEGER PRIMARY KEY);\n")
    pack_file = copy.policies_dir / "PulumiPolicy.yaml"
    pack_file.write_text(pack_file.read_text().replace("version: 1.0.0", "version: 1.0.0-second"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # from elsewhere with -C: plan it to stdout; standing in the checkout: gate the stack (planning it
    # itself) and that plan from stdin, in one gate run
    planned = subprocess.run([*_console_script(), "-C", str(copy.root), "plan", "-s", "production", "--out", "-"],
                             cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert planned.returncode == 0, planned.stderr
    gated = subprocess.run([*_console_script(), "gate", "-s", "production", "--plan", "-", "--format", "json"],
                           cwd=copy.root, input=planned.stdout, capture_output=True, text=True, timeout=300)

    plan = json.loads(planned.stdout)
    runner = next(r for r in plan["resources"] if r["name"] == "production-storage-d1-chittyconnect-migrations")
    assert {"name": migration.name, "sha256": hashlib.sha256(migration.read_bytes()).hexdigest()} in \
        runner["inputs"]["migrations"]
    assert not (ROOT / "migrations/chittyconnect" / migration.name).exists()
    tls = next(r for r in plan["resources"] if r["type"] == ZONE_SETTING and r["inputs"].get("settingId") == "min_tls_version")
    assert tls["inputs"]["value"] == "1.2"

    assert gated.returncode == 1, gated.stderr
    report = json.loads(gated.stdout)
    assert report["projectRoot"] == str(copy.root)
    assert report["pack"]["version"] == "1.0.0-second"      # the second checkout's pack ran
    assert [s["origin"] for s in report["stacks"]] == ["plan of production", "plan file on stdin"]
    # the weakened setting fails both: the gate's own plan of the checkout, and the -C plan
    assert [f["ruleId"] for f in report["findings"] if f["enforcement"] == "mandatory"] == ["CF-TLS-001"] * 2
