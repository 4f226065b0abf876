"""`chittyos-edge readiness`: the production readiness checklist item by item, each checkable item
with the rules that enforce it and its status in a stack, the rest with who checks it."""

from __future__ import annotations

import copy
import json

import pytest

from chittyos_edge import cli
from chittyos_edge.gate import readiness as module
from chittyos_edge.gate.readiness import CHECKLIST, FAIL_ON, failing, readiness, render

RULE_ID = r"CF-[A-Z0-9]+-\d{3}"


@pytest.fixture(scope="module")
def production_rows(production):
    return readiness("production", plan=copy.deepcopy(production))


def _row(rows, fragment, status=None):
    return next(r for r in rows if fragment in r["item"] and (status is None or r["status"] == status))


def test_no_item_is_merely_set_and_each_checkable_item_names_its_rules(production_rows):
    assert len(production_rows) == len(CHECKLIST)
    assert {r["status"] for r in production_rows} <= set(module.STATUSES)
    for row in production_rows:
        if row["status"] == "manual":
            assert row["enforcedBy"] == "manual" and ":" in row["detail"], row  # "<who>: <what>"
        else:
            assert all(part.strip().startswith("CF-") for part in row["enforcedBy"].split(",")), row
    assert _row(production_rows, "Endpoint-specific rate limits")["enforcedBy"].startswith("CF-RL-001")
    assert _row(production_rows, "Sign-off", "manual")["detail"]


def test_an_item_is_pass_only_when_its_mandatory_rules_pass(production_rows):
    passed = [r for r in production_rows if r["status"] == "pass"]
    assert passed and all(r["detail"] == "mandatory, no finding" for r in passed)
    waived = _row(production_rows, "CAA records configured")
    assert waived["status"] == "waived" and "CF-DNS-004 undeclared waived:" in waived["detail"]


def test_a_broken_setting_fails_its_item_and_fail_on_exits_1(production, monkeypatch, capsys):
    plan = copy.deepcopy(production)
    setting = next(r for r in plan["resources"] if r["type"].endswith("ZoneSetting")
                   and r["inputs"]["settingId"] == "min_tls_version")
    setting["inputs"]["value"] = "1.2"
    rows = readiness("production", plan=plan)
    row = _row(rows, "SSL certificate installed and valid", "FAIL")
    assert "CF-TLS-001" in row["detail"] and "'1.2'" in row["detail"]
    assert row in failing(rows, "fail") and not failing(rows, None)
    monkeypatch.setattr(module, "readiness", lambda stack, project=None: rows)
    assert cli.main(["readiness", "--stack", "production", "--fail-on", "fail"]) == 1
    assert cli.main(["readiness", "--stack", "production"]) == 0
    assert "FAIL" in capsys.readouterr().out


def test_fail_on_levels_include_the_worse_statuses():
    rows = [{"status": s} for s in module.STATUSES]
    assert [r["status"] for r in failing(rows, "fail")] == ["FAIL"]
    assert {r["status"] for r in failing(rows, "not-pass")} == {"FAIL", "disabled", "waived", "advisory"}
    assert all(set(FAIL_ON[a]) <= set(FAIL_ON[b]) for a, b in [("fail", "advisory"), ("advisory", "waived"),
                                                               ("waived", "not-pass")])


def test_staging_shows_production_only_rules_as_disabled_or_advisory(staging):
    rows = readiness("staging", plan=copy.deepcopy(staging))
    assert _row(rows, "Data rollback procedures", "disabled")["detail"].startswith("off for this stack")
    assert _row(rows, "Allowed origins properly restricted")["status"] == "advisory"


def test_the_command_prints_json_and_markdown(production_rows, monkeypatch, capsys):
    monkeypatch.setattr(module, "readiness", lambda stack, project=None: production_rows)
    assert cli.main(["readiness", "--stack", "production", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "production" and len(document["items"]) == len(CHECKLIST)
    markdown = render("production", production_rows, "markdown")
    assert markdown.startswith("### Production readiness checklist: production") and "| pass |" in markdown
    assert "seed" not in markdown.lower()


def test_help_shows_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["readiness", "--help"])
    text = capsys.readouterr().out
    assert "--fail-on fail" in text and "exit codes:" in text and "waived" in text
