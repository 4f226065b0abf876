"""The gate's report in each output format: table (default), json, markdown, sarif, junit, github.

All built with the standard library: SARIF 2.1.0 is JSON, JUnit is xml.etree.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Callable

from .findings import Finding, GateReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
ARTIFACT = "Pulumi.{stack}.yaml"


def _verdict(report: GateReport) -> str:
    stacks = ", ".join(s.stack for s in report.stacks) or "no stack"
    if report.passed:
        extra = f" ({len(report.advisory)} advisory)" if report.advisory else ""
        return f"PASS: no mandatory violation in {stacks}{extra}"
    return (f"FAIL: {len(report.mandatory)} mandatory violation(s) in {stacks}"
            f"{f', {len(report.advisory)} advisory' if report.advisory else ''}")


def table(report: GateReport) -> str:
    lines = [f"Policy gate: pack {report.pack} v{report.version}, project {report.project_root or '(unknown)'}"]
    for s in report.stacks:
        lines.append(f"  {s.stack}: {s.resources} resources from {s.origin}, {s.policies} policies enabled")
    findings = report.sorted_findings()
    if findings:
        rows = [(f.enforcement.upper(), f.rule_id, f.severity, f.stack, f.resource, f.message) for f in findings]
        widths = [max(len(r[i]) for r in rows + [("LEVEL", "RULE", "SEVERITY", "STACK", "RESOURCE", "")])
                  for i in range(5)]
        header = ("LEVEL", "RULE", "SEVERITY", "STACK", "RESOURCE")
        lines.append("")
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  MESSAGE")
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
    lines.append("")
    lines.append(_verdict(report))
    return "\n".join(lines)


def as_json(report: GateReport) -> str:
    return json.dumps({
        "pack": {"name": report.pack, "version": report.version},
        "projectRoot": report.project_root,
        "passed": report.passed,
        "stacks": [{"stack": s.stack, "origin": s.origin, "resources": s.resources, "policies": s.policies}
                   for s in report.stacks],
        "summary": {"mandatory": len(report.mandatory), "advisory": len(report.advisory)},
        "findings": [f.as_dict() for f in report.sorted_findings()],
    }, indent=2) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: GateReport) -> str:
    icon = "✅" if report.passed else "❌"
    lines = [f"### {icon} Policy gate: {_verdict(report)}", ""]
    lines.append(f"Pack `{report.pack}` v{report.version}, run through the Analyzer protocol by `chittyos-edge gate` "
                 f"in `{report.project_root}`.")
    lines.append("")
    lines.append("| stack | source | resources | policies enabled |")
    lines.append("|---|---|---:|---:|")
    for s in report.stacks:
        lines.append(f"| {s.stack} | {_md(s.origin)} | {s.resources} | {s.policies} |")
    findings = report.sorted_findings()
    if findings:
        lines += ["", "| level | rule | severity | stack | resource | finding | checklist item |",
                  "|---|---|---|---|---|---|---|"]
        for f in findings:
            lines.append(f"| {f.enforcement} | `{f.rule_id}` | {f.severity} | {f.stack} | `{_md(f.resource)}` | "
                         f"{_md(f.message)} | {_md(f.checklist)} |")
        lines += ["", "<details><summary>How to fix</summary>", ""]
        seen = set()
        for f in findings:
            if f.rule_id not in seen:
                seen.add(f.rule_id)
                lines.append(f"- **{f.rule_id}** {_md(f.title.rstrip('.'))}: {_md(f.remediation)}")
        lines += ["", "</details>"]
    else:
        lines += ["", "No findings."]
    return "\n".join(lines) + "\n"


def sarif(report: GateReport) -> str:
    rules = []
    index = {}
    for rule in report.rules:
        index[rule["id"]] = len(rules)
        rules.append({
            "id": rule["id"], "name": rule["policy"],
            "shortDescription": {"text": rule["title"]},
            "fullDescription": {"text": f"{rule['title']} Checklist: {rule['checklist']}"},
            "help": {"text": rule["remediation"]},
            "properties": {"security-severity": SECURITY_SEVERITY.get(rule["severity"], "5.0"),
                           "tags": ["security", "cloudflare", "pulumi"], "checklist": rule["checklist"]},
        })
    results = []
    for f in report.sorted_findings():
        stack = f.stack.split("+")[-1]
        result = {
            "ruleId": f.rule_id, "level": SARIF_LEVEL.get(f.enforcement, "note"),
            "message": {"text": f"{f.stack}: {f.resource}: {f.message}"},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": ARTIFACT.format(stack=stack)},
                                     "region": {"startLine": 1}},
                "logicalLocations": [{"fullyQualifiedName": f.urn or f.stack, "kind": "resource"}],
            }],
            "properties": {"stack": f.stack, "enforcement": f.enforcement, "severity": f.severity,
                           "urn": f.urn, "source": f.source},
        }
        if f.rule_id in index:
            result["ruleIndex"] = index[f.rule_id]
        results.append(result)
    document = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "chittyos-edge gate", "semanticVersion": report.version,
                                "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                                "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2) + "\n"


def junit(report: GateReport) -> str:
    suites = ET.Element("testsuites", name="chittyos-edge gate", tests="0", failures="0")
    total = failures = 0
    for s in report.stacks:
        suite = ET.SubElement(suites, "testsuite", name=f"policy gate {s.stack}")
        tests = fails = 0
        for rule in report.rules:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=f"{s.stack}.{rule['id']}", name=rule["title"])
            mine = [f for f in report.findings if f.stack == s.stack and f.rule_id == rule["id"]]
            mandatory = [f for f in mine if f.mandatory]
            if mandatory:
                fails += 1
                failure = ET.SubElement(case, "failure", type=rule["id"],
                                        message=f"{len(mandatory)} mandatory violation(s)")
                failure.text = "\n".join(f"{f.resource}: {f.message}" for f in mandatory)
            advisory = [f for f in mine if not f.mandatory]
            if advisory:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(f"advisory: {f.resource}: {f.message}" for f in advisory)
        suite.set("tests", str(tests))
        suite.set("failures", str(fails))
        total += tests
        failures += fails
    cross = [f for f in report.findings if "+" in f.stack]
    if len(report.stacks) > 1:
        suite = ET.SubElement(suites, "testsuite", name="policy gate cross-stack", tests="1")
        case = ET.SubElement(suite, "testcase", classname="cross-stack.CF-ENV-003",
                             name="stacks share no stateful identifier")
        mandatory = [f for f in cross if f.mandatory]
        if mandatory:
            failure = ET.SubElement(case, "failure", type="CF-ENV-003", message=f"{len(mandatory)} shared identifier(s)")
            failure.text = "\n".join(f.message for f in mandatory)
        suite.set("failures", "1" if mandatory else "0")
        total += 1
        failures += 1 if mandatory else 0
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(report: GateReport) -> str:
    """Workflow commands: one `::error` (mandatory) or `::warning` (advisory) annotation per finding."""
    lines = []
    for f in report.sorted_findings():
        command = "error" if f.mandatory else "warning"
        stack = f.stack.split("+")[-1]
        lines.append(f"::{command} file={_escape_property(ARTIFACT.format(stack=stack))},"
                     f"title={_escape_property(f.rule_id)}::{_escape_data(f'{f.stack}: {f.resource}: {f.message}')}")
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[GateReport], str]] = {
    "table": table, "json": as_json, "markdown": markdown, "sarif": sarif, "junit": junit, "github": github,
}


def render(report: GateReport, fmt: str) -> str:
    return FORMATS[fmt](report)


__all__ = ["FORMATS", "Finding", "GateReport", "render"]
