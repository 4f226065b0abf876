"""`chittyos-edge readiness`: the checklist (seed 002) item by item, with what enforces each and its
status in a stack."""

from __future__ import annotations

import copy
import json

from chittyos_edge import cli
from chittyos_edge.gate.readiness import CHECKLIST, readiness


def _row(rows, fragment):
    return next(r for r in rows if fragment in r["item"])


def test_production_items_pass_or_are_set_and_manual_items_are_listed(production):
    rows = readiness("production", plan=copy.deepcopy(production))
    assert len(rows) == len(CHECKLIST)
    assert _row(rows, "SSL certificate installed")["status"] == "pass"
    assert _row(rows, "Endpoint-specific rate limits")["enforcedBy"] == "CF-RL-001"
    assert _row(rows, "Compatibility flags set for Node.js")["status"] == "set"
    assert {r["status"] for r in rows if r["enforcedBy"] == "manual"} == {"manual"}
    assert any("Sign-off" in r["item"] for r in rows if r["status"] == "manual")
    assert not [r for r in rows if r["status"] == "FAIL"], [r for r in rows if r["status"] == "FAIL"]


def test_a_broken_setting_shows_as_fail_on_its_item(production):
    plan = copy.deepcopy(production)
    ruleset = next(r for r in plan["resources"] if r["type"].endswith("ruleset:Ruleset")
                   and r["inputs"]["phase"] == "http_ratelimit")
    ruleset["inputs"]["rules"] = [rule for rule in ruleset["inputs"]["rules"] if "/api/auth/" not in rule["expression"]]
    row = _row(readiness("production", plan=plan), "Endpoint-specific rate limits")
    assert row["status"] == "FAIL" and "/api/auth/" in row["detail"]


def test_staging_shows_production_only_rules_as_disabled_or_advisory(capsys, staging):
    rows = readiness("staging", plan=copy.deepcopy(staging))
    assert _row(rows, "Data rollback procedures")["status"] == "disabled"
    assert _row(rows, "Allowed origins properly restricted")["status"] == "advisory"


def test_the_command_prints_json(capsys):
    assert cli.main(["readiness", "--stack", "staging", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "staging" and len(document["items"]) == len(CHECKLIST)
