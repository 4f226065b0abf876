"""The gate's reports where reviewers look: findings on the stack-file line of the key they are about,
SARIF for code scanning, JUnit valid against the Jenkins/Surefire schema, a markdown summary that
survives CommonMark, annotations within GitHub's limits, and config errors in every format."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from chittyos_edge import cli
from chittyos_edge.gate.findings import Finding, GateReport, StackResult
from chittyos_edge.gate.formats import render

ROOT = Path(__file__).resolve().parents[1]
JUNIT_XSD = xmlschema.XMLSchema(ROOT / "tests" / "fixtures" / "junit-10.xsd")


def line_of(stack: str, text: str) -> int:
    """The 1-based line of the first stack-file line containing `text`."""
    lines = (ROOT / f"Pulumi.{stack}.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _mutate(plan: dict[str, Any]) -> dict[str, Any]:
    plan = copy.deepcopy(plan)
    for record in plan["resources"]:
        if record["name"].endswith("setting-min-tls-version"):
            record["inputs"]["value"] = "1.2"
        if record["name"] == "production-storage-bucket-chittyops-analytics-lifecycle":
            record["inputs"]["rules"] = []
        if record["name"] == "production-data-kv-chittyops-sync":
            record["protect"] = False
    return plan


@pytest.fixture(scope="module")
def report(tmp_path_factory, plans) -> GateReport:
    from chittyos_edge.gate.runner import Source, run_gate

    folder = tmp_path_factory.mktemp("reports")
    (folder / "production.json").write_text(json.dumps(_mutate(plans["production"])))
    (folder / "staging.json").write_text(json.dumps(plans["staging"]))
    from chittyos_edge.project import Project

    return run_gate([Source("plan", str(folder / "staging.json")), Source("plan", str(folder / "production.json"))],
                    project=Project.at(ROOT))


def _finding(report: GateReport, rule_id: str) -> Finding:
    return next(f for f in report.findings if f.rule_id == rule_id)


# ---- locations -----------------------------------------------------------------------------

def test_findings_point_at_the_line_of_the_key_they_are_about(report):
    expected = {
        "CF-TLS-001": ("edgeSecurity.tls.minTlsVersion", line_of("production", "minTlsVersion:")),
        "CF-DATA-001": ("dataProtection.protect", line_of("production", "protect: true")),
        "CF-R2-001": ("r2Buckets.chittyops-analytics.lifecycle", None),
    }
    for rule_id, (key, line) in expected.items():
        where = report.locations[_finding(report, rule_id)]
        assert (where.file, where.key) == ("Pulumi.production.yaml", key)
        assert where.line == line or (line is None and where.line > 1)
    cors = report.locations[_finding(report, "CF-CORS-001")]
    assert cors.file == "Pulumi.staging.yaml" and cors.key.endswith(".cors") and cors.line > 1
    # Every finding of both stacks (staging's advisories too) is on a key of its own stack file, past line 1.
    for finding in report.findings:
        where = report.locations[finding]
        assert where.file == f"Pulumi.{finding.stack.split('+')[-1]}.yaml" and where.key and where.line > 1, finding


def test_sarif_has_real_lines_fingerprints_help_and_a_run_per_stack(report):
    document = json.loads(render(report, "sarif"))
    runs = {run["automationDetails"]["id"]: run for run in document["runs"]}
    assert set(runs) == {"chittyos-edge-gate/staging/", "chittyos-edge-gate/production/"}
    production = runs["chittyos-edge-gate/production/"]
    tls = next(r for r in production["results"] if r["ruleId"] == "CF-TLS-001")
    region = tls["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == line_of("production", "minTlsVersion:") and region["startColumn"] == 7
    results = [r for run in document["runs"] for r in run["results"]]
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 1 for r in results)
    prints = [r["partialFingerprints"]["chittyosEdgeFinding/v1"] for r in results]
    assert len(set(prints)) == len(prints) and all(re.fullmatch(r"[0-9a-f]{64}", p) for p in prints)
    assert all(rule["helpUri"].startswith("https://") for rule in production["tool"]["driver"]["rules"])
    # The resource is named once in the message.
    assert tls["message"]["text"].count("production-edge-security-setting-min-tls-version") == 1


def test_junit_is_valid_against_junit_10_xsd_with_skipped_rules_and_the_cross_check_once(report):
    xml = render(report, "junit")
    JUNIT_XSD.validate(xml)
    document = JUNIT_XSD.to_dict(xml)
    suites = {s["@name"]: s for s in document["testsuite"]}
    staging = {c["@classname"]: c for c in suites["policy gate staging"]["testcase"]}
    assert staging["staging.CF-DATA-001"]["skipped"][0]["@message"] == "disabled in policies/config/staging.json"
    assert staging["staging.CF-DATA-002"]["skipped"][0]["@message"] == "disabled in policies/config/staging.gate.json"
    assert "skipped" in staging["staging.CF-DATA-003"]  # no --diff: not checked
    production = {c["@classname"]: c for c in suites["policy gate production"]["testcase"]}
    assert "failure" in production["production.CF-TLS-001"] and "skipped" not in production["production.CF-TLS-002"]
    classnames = [c["@classname"] for s in document["testsuite"] for c in s["testcase"]]
    assert [c for c in classnames if c.endswith("CF-ENV-003")] == ["cross-stack.CF-ENV-003"]
    assert int(document["@failures"]) == 3 and int(suites["policy gate staging"]["@skipped"]) >= 2


def test_markdown_keeps_key_paths_and_gives_a_verdict_per_stack(report):
    text = render(report, "markdown")
    assert text.startswith("### ❌ Policy gate failed\n")
    advisories = sum(1 for f in report.findings if f.stack == "staging" and f.enforcement == "advisory")
    assert advisories and f"- ✅ **staging**: no mandatory violation, {advisories} advisory" in text
    assert "- ❌ **production**: 3 mandatory violation(s)" in text
    assert "`r2Buckets.<name>.cors[].allowedOrigins`" in text
    prose = re.sub(r"(`+).*?\1", "", text)
    assert "<name>" not in prose  # CommonMark would read it as an HTML tag and GitHub would drop it
    row = next(line for line in text.splitlines() if "CF-TLS-001" in line and line.startswith("|"))
    assert row.count("production-edge-security-setting-min-tls-version") == 1
    assert f"`Pulumi.production.yaml:{line_of('production', 'minTlsVersion:')}`" in row


def test_annotations_carry_lines(report):
    lines = render(report, "github").splitlines()
    tls = next(line for line in lines if "CF-TLS-001" in line)
    assert tls.startswith(f"::error file=Pulumi.production.yaml,line={line_of('production', 'minTlsVersion:')},"
                          "title=CF-TLS-001::production: ZoneSetting ")


def test_annotations_past_githubs_ten_per_step_get_a_hint():
    findings = [Finding(stack="production", rule_id=f"CF-X-{i:03}", policy="p", title="t", severity="high",
                        enforcement="mandatory", message=f"problem {i}", urn="", remediation="", checklist="",
                        source="gate") for i in range(12)]
    report = GateReport(pack="p", version="1", stacks=[StackResult("production", "plan", 1, 1)], findings=findings)
    lines = render(report, "github").splitlines()
    assert sum(line.startswith("::error ") for line in lines) == 12
    assert any(line.startswith("::notice title=More findings than GitHub shows::") and "2 errors" in line
               for line in lines)


# ---- config errors reach the PR ------------------------------------------------------------

def test_a_stack_file_typo_is_rendered_in_every_requested_format(capsys, tmp_path):
    from tests.conftest import copy_project

    checkout = tmp_path / "checkout"
    copy_project(checkout)
    stack_file = checkout / "Pulumi.staging.yaml"
    text = stack_file.read_text().replace("    chittyops-sync:\n", "    chittyops-sync:\n      descripton: typo\n", 1)
    stack_file.write_text(text)
    typo_line = line_of("staging", "    chittyops-sync:") + 1
    out_dir = tmp_path / "gate"
    code = cli.main(["-C", str(checkout), "gate", "--stack", "staging", "--stack", "production",
                     "--diff", str(checkout), str(checkout), "--format", "github", "--write", f"markdown={out_dir / 'summary.md'}",
                     "--write", f"sarif={out_dir / 'gate.sarif'}", "--write", f"junit={out_dir / 'junit.xml'}"])
    out, err = capsys.readouterr()
    assert code == 2 and "kvNamespaces.chittyops-sync.descripton" in err and "Traceback" not in err
    assert out.startswith(f"::error file=Pulumi.staging.yaml,line={typo_line},title=config error::")
    summary = (out_dir / "summary.md").read_text()
    assert summary.startswith("### ❌ Policy gate: config error") and f"`Pulumi.staging.yaml:{typo_line}`" in summary
    sarif = json.loads((out_dir / "gate.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == typo_line
    JUNIT_XSD.validate(str(out_dir / "junit.xml"))


# ---- gate --diff ---------------------------------------------------------------------------

def test_gate_diff_fails_a_protected_delete_in_production(capsys, tmp_path, production):
    from test_diff import rename_kv_key

    from tests.conftest import plan_with

    head = plan_with("production", rename_kv_key)
    base_file, head_file = tmp_path / "base.json", tmp_path / "head.json"
    base_file.write_text(json.dumps(production))
    head_file.write_text(json.dumps(head))
    code = cli.main(["gate", "--plan", str(head_file), "--diff", str(base_file), str(head_file), "--format", "junit"])
    out, _ = capsys.readouterr()
    assert code == 1
    JUNIT_XSD.validate(out)
    cases = {c["@classname"]: c for c in JUNIT_XSD.to_dict(out)["testsuite"][0]["testcase"]}
    assert "failure" in cases["production.CF-DATA-003"]
    assert "production-data-kv-chittyops-sync " in cases["production.CF-DATA-003"]["failure"][0]["$"]


def test_every_resource_of_both_stacks_is_traced_to_a_line_of_its_stack_file(plans):
    import yaml

    from chittyos_edge.config.stack_file import load_stack_file
    from chittyos_edge.gate.locations import entry_key, nearest_position

    for stack, plan in plans.items():
        path = ROOT / f"Pulumi.{stack}.yaml"
        raw = yaml.safe_load(path.read_text())["config"]
        config = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("chittyos-edge:")}
        position_of = load_stack_file(path).position_of
        untraced = [r["name"] for r in plan["resources"] if r["custom"]
                    and not ((key := entry_key(r["urn"], config, stack))
                             and (nearest_position(position_of, key) or (0, 0))[0] > 1)]
        assert untraced == [], f"{stack}: resources whose config entry is not found (locations.py): {untraced}"
