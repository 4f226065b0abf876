"""`chittyos-edge diff BASE HEAD`: the change view between two plans or two git revisions, and the gate
finding for a protected resource it would delete or replace (CF-DATA-003)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chittyos_edge import cli
from chittyos_edge.diff.changes import changed_paths, compare
from chittyos_edge.diff.render import MARKER, DiffReport, markdown, mermaid
from chittyos_edge.diff.replace import REPLACE_ON_CHANGES
from tests.conftest import plan_with

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
OLD_KEY, NEW_KEY = "chittyops-sync", "chittyops-cross-platform-sync"


def rename_kv_key(config: dict[str, Any]) -> None:
    """Rename one kvNamespaces entry and the binding that names it: the config stays valid."""
    stores = config["chittyos-edge:kvNamespaces"]
    stores[NEW_KEY] = stores.pop(OLD_KEY)
    for service in config["chittyos-edge:services"].values():
        kv = service.get("bindings", {}).get("kv", {})
        for binding, key in list(kv.items()):
            if key == OLD_KEY:
                kv[binding] = NEW_KEY


def diff(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


def save(tmp_path: Path, name: str, plan: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(plan))
    return str(path)


@pytest.fixture(scope="module")
def renamed() -> dict[str, dict[str, Any]]:
    return {stack: plan_with(stack, rename_kv_key) for stack in ("production", "staging")}


# ---- the acceptance case -------------------------------------------------------------------

def test_a_renamed_kv_key_is_a_delete_and_a_create_and_fails_production(capsys, tmp_path, production, renamed):
    base, head = save(tmp_path, "base.json", production), save(tmp_path, "head.json", renamed["production"])
    code, out, err = diff(capsys, base, head, "--format", "json")
    report = json.loads(out)
    assert code == 1, err
    changes = report["stacks"][0]["changes"]
    kv = {(c["action"], c["name"]) for c in changes if c["type"] == KV}
    assert kv == {("delete", f"production-data-kv-{OLD_KEY}"), ("create", f"production-data-kv-{NEW_KEY}")}
    deleted = next(c for c in changes if c["action"] == "delete")
    assert deleted["protected"] and deleted["urn"].endswith(f"::production-data-kv-{OLD_KEY}")
    # The Worker bound to it gets a new version (versions are immutable): its binding points at the new namespace.
    version = next(c for c in changes if c["name"] == "production-project-awareness-version-stable")
    assert version["action"] == "replace" and "bindings[CROSS_PLATFORM_SYNC].namespaceId" in version["changedInputs"]
    [finding] = report["findings"]
    assert finding["ruleId"] == "CF-DATA-003" and finding["enforcement"] == "mandatory"
    assert f"production-data-kv-{OLD_KEY}" in finding["message"] and not report["passed"]


def test_the_same_rename_in_staging_is_reported_but_passes(capsys, tmp_path, staging, renamed):
    code, out, _ = diff(capsys, save(tmp_path, "b.json", staging), save(tmp_path, "h.json", renamed["staging"]))
    assert code == 0
    assert f"-  WorkersKvNamespace staging-data-kv-{OLD_KEY}" in out
    assert f"+  WorkersKvNamespace staging-data-kv-{NEW_KEY}" in out
    assert "staging: 1 to create, 1 to replace, 1 to delete" in out and out.rstrip().endswith("PASS: no protected "
                                                                                             "resource deleted or replaced")


def test_a_force_new_input_is_a_replacement_of_a_protected_bucket(capsys, tmp_path, production):
    def move(config: dict[str, Any]) -> None:
        config["chittyos-edge:r2Buckets"]["chittyconnect-documents"]["location"] = "weur"

    head = plan_with("production", move)
    code, out, _ = diff(capsys, save(tmp_path, "b.json", production), save(tmp_path, "h.json", head))
    assert code == 1
    assert ("+- R2Bucket production-storage-bucket-chittyconnect-documents [PROTECTED]: "
            "location (forces replacement)") in out
    assert "would be replaced (a change of location forces it)" in out


def test_an_input_that_does_not_force_replacement_is_an_update(capsys, tmp_path, production):
    def retention(config: dict[str, Any]) -> None:
        config["chittyos-edge:queues"]["github-events-dlq"]["messageRetentionPeriod"] = 86400

    head = plan_with("production", retention)
    code, out, _ = diff(capsys, save(tmp_path, "b.json", production), save(tmp_path, "h.json", head),
                        "--format", "json")
    [change] = json.loads(out)["stacks"][0]["changes"]
    assert code == 0 and change["action"] == "update" and change["replaceReasons"] == []
    assert change["name"] == "production-data-queue-github-events-dlq" and change["changedInputs"] == ["settings"]


def test_identical_plans_have_no_changes(capsys, tmp_path, production):
    path = save(tmp_path, "p.json", production)
    code, out, _ = diff(capsys, path, path)
    assert code == 0 and "production: no changes" in out


def test_every_type_the_program_registers_is_in_the_replacement_table(plans):
    types = {r["type"] for plan in plans.values() for r in plan["resources"] if r["custom"]}
    assert types - set(REPLACE_ON_CHANGES) == set(), "add the type's force-new inputs to chittyos_edge/diff/replace.py"


def test_changed_paths_match_list_items_by_name():
    old = {"bindings": [{"name": "A", "id": "1"}, {"name": "B", "id": "2"}], "limits": {"cpuMs": 10}}
    new = {"bindings": [{"name": "C", "id": "3"}, {"name": "A", "id": "1"}, {"name": "B", "id": "9"}],
           "limits": {"cpuMs": 10}}
    assert changed_paths(old, new) == ["bindings[B].id", "bindings[C]"]
    assert changed_paths({"a": [1, 2]}, {"a": [1, 3]}) == ["a[1]"]
    assert changed_paths({"a": 1}, {"b": 1}) == ["a", "b"]


# ---- formats -------------------------------------------------------------------------------

def test_markdown_has_the_marker_the_table_and_a_mermaid_picture(production, renamed):
    changes = compare(production, renamed["production"], "revision main", "revision HEAD")
    report = DiffReport("revision main", "revision HEAD", [changes], [])
    text = markdown(report)
    assert text.startswith(MARKER + "\n### ")
    assert f"| 🔴 delete **PROTECTED** | `production-data-kv-{OLD_KEY}` | WorkersKvNamespace |" in text
    assert "```mermaid\nflowchart LR" in text
    picture = mermaid(changes)
    assert f'["- WorkersKvNamespace production-data-kv-{OLD_KEY}"]:::delete' in picture
    assert f'["+ WorkersKvNamespace production-data-kv-{NEW_KEY}"]:::create' in picture
    assert 'subgraph c' in picture and '"DataStores production-data"' in picture and "unchanged" in picture
    short = markdown(report, limit=1500)
    assert len(short) <= 1600 and "```mermaid" not in short and short.startswith(MARKER)


# ---- git revisions -------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A throwaway clone of this repository with one more commit: the KV key renamed in staging."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(root), str(target)], check=True)
    stack_file = target / "Pulumi.staging.yaml"
    document = yaml.safe_load(stack_file.read_text())
    rename_kv_key(document["config"])
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    _git(target, "commit", "--quiet", "-am", "rename a KV key")
    return target


def test_two_git_revisions_are_planned_in_worktrees_and_cleaned_up(capsys, monkeypatch, clone):
    monkeypatch.chdir(clone)
    code, out, err = diff(capsys, "HEAD~1", "HEAD", "--stack", "staging")
    assert code == 0, err
    assert out.startswith("Changes from revision HEAD~1 (") and " to revision HEAD (" in out
    assert f"-  WorkersKvNamespace staging-data-kv-{OLD_KEY}" in out
    assert f"+  WorkersKvNamespace staging-data-kv-{NEW_KEY}" in out
    assert len(_git(clone, "worktree", "list").splitlines()) == 1


def test_an_unknown_revision_is_one_line(capsys, monkeypatch, clone):
    monkeypatch.chdir(clone)
    code, _, err = diff(capsys, "no-such-branch", "HEAD", "--stack", "staging")
    assert code == 2 and "'no-such-branch' is neither a plan file" in err and "Traceback" not in err
    assert len(_git(clone, "worktree", "list").splitlines()) == 1
