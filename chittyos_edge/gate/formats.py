"""The gate's report in each output format: table (default), json, markdown, sarif, junit, github.

All built with the standard library: SARIF 2.1.0 is JSON, JUnit is xml.etree. Every finding carries
the stack file and line of the key it is about (`locations.py`). A config error (the gate could not
plan a stack, or read its policy config) is rendered in every format too, so that a pull request
with a typo in a stack file still gets its annotation, summary and report files.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .findings import Finding, GateReport
from .locations import STACK_FILE, Location, nearest_position, stack_file_positions

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
TOOL = "chittyos-edge gate"
# GitHub shows at most 10 error and 10 warning annotations of one step (actions/toolkit docs).
ANNOTATIONS_SHOWN = 10
# The product documentation of what each rule checks: SARIF `helpUri`, and the rule links in markdown.
HELP = {
    "CF-TLS-001": "https://developers.cloudflare.com/ssl/edge-certificates/additional-options/minimum-tls/",
    "CF-TLS-002": "https://developers.cloudflare.com/ssl/origin-configuration/ssl-modes/full-strict/",
    "CF-TLS-003": "https://developers.cloudflare.com/ssl/edge-certificates/additional-options/always-use-https/",
    "CF-TLS-004": "https://developers.cloudflare.com/ssl/edge-certificates/additional-options/http-strict-transport-security/",
    "CF-WAF-001": "https://developers.cloudflare.com/waf/managed-rules/",
    "CF-RL-001": "https://developers.cloudflare.com/waf/rate-limiting-rules/",
    "CF-ENV-001": "https://developers.cloudflare.com/workers/wrangler/environments/",
    "CF-ENV-002": "https://developers.cloudflare.com/workers/wrangler/environments/",
    "CF-ENV-003": "https://developers.cloudflare.com/workers/wrangler/environments/",
    "CF-CORS-001": "https://developers.cloudflare.com/r2/buckets/cors/",
    "CF-CORS-002": "https://developers.cloudflare.com/workers/examples/cors-header-proxy/",
    "CF-SEC-001": "https://developers.cloudflare.com/workers/configuration/secrets/",
    "CF-DATA-001": "https://www.pulumi.com/docs/iac/concepts/options/protect/",
    "CF-DATA-002": "https://www.pulumi.com/docs/iac/concepts/options/retainondelete/",
    "CF-DATA-003": "https://www.pulumi.com/docs/iac/concepts/options/protect/",
    "CF-DO-001": "https://developers.cloudflare.com/durable-objects/reference/durable-objects-migrations/",
    "CF-R2-001": "https://developers.cloudflare.com/r2/buckets/object-lifecycles/",
    "CF-R2-002": "https://developers.cloudflare.com/r2/buckets/public-buckets/",
    "CF-MON-001": "https://developers.cloudflare.com/health-checks/",
    "CF-MON-002": "https://developers.cloudflare.com/notifications/",
    "CF-TUN-001": "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/",
    "CF-TUN-002": "https://developers.cloudflare.com/cloudflare-one/applications/configure-apps/self-hosted-public-app/",
}
HELP_DEFAULT = "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/"
DIFF_RULE = "CF-DATA-003"
CROSS_RULE = "CF-ENV-003"


# ---- shared pieces -------------------------------------------------------------------------

def _stack_file(finding: Finding) -> str:
    return STACK_FILE.format(stack=finding.stack.split("+")[-1])


def _where(report: GateReport, finding: Finding) -> Location:
    return report.locations.get(finding) or Location(_stack_file(finding), "", None)


def _message(finding: Finding) -> str:
    """The finding's message, naming its resource once."""
    if finding.urn and not finding.message.startswith(finding.resource):
        return f"{finding.resource}: {finding.message}"
    return finding.message


def _stack_verdict(report: GateReport, stack: str) -> tuple[bool, str]:
    """(passed, "FAIL: 1 mandatory violation(s), 2 advisory") for one stack (its cross-stack findings too)."""
    mine = [f for f in report.findings if stack in f.stack.split("+")]
    mandatory = sum(1 for f in mine if f.mandatory)
    advisory = len(mine) - mandatory
    extra = f", {advisory} advisory" if advisory else ""
    if mandatory:
        return False, f"FAIL: {mandatory} mandatory violation(s){extra}"
    return True, f"PASS: no mandatory violation{extra}"


def _verdict(report: GateReport) -> str:
    stacks = ", ".join(s.stack for s in report.stacks) or "no stack"
    if report.passed:
        extra = f" ({len(report.advisory)} advisory)" if report.advisory else ""
        return f"PASS: no mandatory violation in {stacks}{extra}"
    failing = ", ".join(s.stack for s in report.stacks if not _stack_verdict(report, s.stack)[0])
    return (f"FAIL: {len(report.mandatory)} mandatory violation(s) in {failing or stacks}"
            f"{f', {len(report.advisory)} advisory' if report.advisory else ''}")


def _skip_reason(report: GateReport, stack: str, rule: dict[str, str]) -> str | None:
    """Why a rule did not run for a stack (JUnit `<skipped/>`), or None when it ran."""
    levels = next((s.levels for s in report.stacks if s.stack == stack), {})
    if levels.get(rule["policy"]) == "disabled":
        return f"disabled in policies/config/{stack}{'.gate' if rule.get('source') == 'gate' else ''}.json"
    if rule["id"] == DIFF_RULE and stack not in report.diffed:
        return "checked on a change only: chittyos-edge diff BASE HEAD, or gate --diff BASE HEAD"
    return None


# ---- table and json ------------------------------------------------------------------------

def table(report: GateReport) -> str:
    lines = [f"Policy gate: pack {report.pack} v{report.version}, project {report.project_root or '(unknown)'}"]
    for s in report.stacks:
        lines.append(f"  {s.stack}: {s.resources} resources from {s.origin}, {s.policies} policies enabled")
    findings = report.sorted_findings()
    if findings:
        rows = []
        for f in findings:
            where = _where(report, f)
            place = f"{where.file}:{where.line}" if where.line else where.file
            rows.append((f.enforcement.upper(), f.rule_id, f.severity, f.stack, place, _message(f)))
        header = ("LEVEL", "RULE", "SEVERITY", "STACK", "WHERE")
        widths = [max(len(r[i]) for r in rows + [header + ("",)]) for i in range(5)]
        lines.append("")
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  MESSAGE")
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
    lines.append("")
    if len(report.stacks) > 1:
        lines += [f"  {s.stack}: {_stack_verdict(report, s.stack)[1]}" for s in report.stacks]
    lines.append(_verdict(report))
    return "\n".join(lines)


def as_json(report: GateReport) -> str:
    def finding(f: Finding) -> dict:
        where = _where(report, f)
        return {**f.as_dict(), "file": where.file, "line": where.line, "keyPath": where.key}

    return json.dumps({
        "pack": {"name": report.pack, "version": report.version},
        "projectRoot": report.project_root,
        "passed": report.passed,
        "stacks": [{"stack": s.stack, "origin": s.origin, "resources": s.resources, "policies": s.policies,
                    "passed": _stack_verdict(report, s.stack)[0]} for s in report.stacks],
        "summary": {"mandatory": len(report.mandatory), "advisory": len(report.advisory)},
        "findings": [finding(f) for f in report.sorted_findings()],
    }, indent=2) + "\n"


# ---- markdown ------------------------------------------------------------------------------

def _code(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# A key path such as `r2Buckets.<name>.cors[].allowedOrigins` or `edgeSecurity.tls.minTlsVersion`.
_KEY_PATH = re.compile(r"(?<![\w/.`-])[A-Za-z][\w-]*(?:\[\])?(?:\.(?:<\w+>|[\w-]+)(?:\[\])?)+(?![\w/`])")


def _md(text: str) -> str:
    """Prose for a table cell or list item: key paths in code spans (so that CommonMark does not read
    `<name>` as HTML), other angle brackets escaped, pipes escaped."""
    parts = re.split(r"(`[^`]*`)", text.replace("\n", " "))
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part.replace("|", "\\|"))
            continue
        pieces, last = [], 0
        for match in _KEY_PATH.finditer(part):
            token = match.group()
            if "<" not in token and not re.search(r"[a-z][A-Z]|\[\]", token):
                continue  # plain dotted words (file names, versions) stay prose
            pieces.append(_escape_html(part[last:match.start()]))
            pieces.append(_code(token))
            last = match.end()
        pieces.append(_escape_html(part[last:]))
        out.append("".join(pieces).replace("|", "\\|"))
    return "".join(out)


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(report: GateReport) -> str:
    icon = "✅" if report.passed else "❌"
    lines = [f"### {icon} Policy gate {'passed' if report.passed else 'failed'}", ""]
    for s in report.stacks:
        ok, text = _stack_verdict(report, s.stack)
        lines.append(f"- {'✅' if ok else '❌'} **{s.stack}**: {text.split(': ', 1)[1]}")
    lines += ["", f"Pack `{report.pack}` v{report.version}, run through the Analyzer protocol by `chittyos-edge gate` "
                  f"in `{report.project_root}`.",
              "", "| stack | source | resources | policies enabled |", "|---|---|---:|---:|"]
    for s in report.stacks:
        lines.append(f"| {s.stack} | {_md(s.origin)} | {s.resources} | {s.policies} |")
    findings = report.sorted_findings()
    if findings:
        lines += ["", "| level | rule | severity | stack | where | finding | checklist item |",
                  "|---|---|---|---|---|---|---|"]
        for f in findings:
            where = _where(report, f)
            place = _code(f"{where.file}:{where.line}" if where.line else where.file)
            if where.key:
                place += f" {_code(where.key)}"
            lines.append(f"| {f.enforcement} | [`{f.rule_id}`]({HELP.get(f.rule_id, HELP_DEFAULT)}) | {f.severity} | "
                         f"{f.stack} | {place} | {_md(_message(f))} | {_md(f.checklist)} |")
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


# ---- SARIF ---------------------------------------------------------------------------------

def _fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: the rule and the resource (or, stack-wide, the message)."""
    return hashlib.sha256(f"{finding.rule_id}\0{finding.urn or finding.message}".encode()).hexdigest()


def _region(where: Location) -> dict[str, int]:
    region = {"startLine": where.line or 1}
    if where.line and where.column:
        region["startColumn"] = where.column
    return region


def _sarif_rules(report: GateReport) -> tuple[list[dict], dict[str, int]]:
    rules, index = [], {}
    for rule in report.rules:
        index[rule["id"]] = len(rules)
        rules.append({
            "id": rule["id"], "name": rule["policy"],
            "shortDescription": {"text": rule["title"]},
            "fullDescription": {"text": f"{rule['title']} Checklist: {rule['checklist']}"},
            "help": {"text": rule["remediation"]},
            "helpUri": HELP.get(rule["id"], HELP_DEFAULT),
            "properties": {"security-severity": SECURITY_SEVERITY.get(rule["severity"], "5.0"),
                           "tags": ["security", "cloudflare", "pulumi"], "checklist": rule["checklist"]},
        })
    return rules, index


def sarif(report: GateReport) -> str:
    """One run per stack (and one for the cross-stack check), each with its own `automationDetails.id`,
    so code scanning keeps each stack's alerts apart."""
    rules, index = _sarif_rules(report)
    groups = [s.stack for s in report.stacks] + sorted({f.stack for f in report.findings if "+" in f.stack})
    runs = []
    for group in dict.fromkeys(groups):
        results = []
        for f in report.sorted_findings():
            if f.stack != group:
                continue
            where = _where(report, f)
            result = {
                "ruleId": f.rule_id, "level": SARIF_LEVEL.get(f.enforcement, "note"),
                "message": {"text": f"{f.stack}: {_message(f)}"},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": where.file}, "region": _region(where)},
                    "logicalLocations": [{"fullyQualifiedName": f.urn or f.stack, "kind": "resource"}],
                }],
                "partialFingerprints": {"chittyosEdgeFinding/v1": _fingerprint(f)},
                "properties": {"stack": f.stack, "enforcement": f.enforcement, "severity": f.severity,
                               "urn": f.urn, "source": f.source, "keyPath": where.key},
            }
            if f.rule_id in index:
                result["ruleIndex"] = index[f.rule_id]
            results.append(result)
        runs.append({
            "tool": {"driver": {"name": TOOL, "semanticVersion": report.version,
                                "informationUri": HELP_DEFAULT, "rules": rules}},
            "automationDetails": {"id": f"chittyos-edge-gate/{group}/"},
            "results": results,
        })
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}, indent=2) + "\n"


# ---- JUnit ---------------------------------------------------------------------------------

def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name, tests="0", failures="0", errors="0", skipped="0")


def _count(suite: ET.Element) -> tuple[int, int, int]:
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return len(cases), failures, skipped


def _case(suite: ET.Element, classname: str, name: str, report: GateReport, mine: list[Finding],
          skipped: str | None) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    mandatory = [f for f in mine if f.mandatory]
    if mandatory:
        failure = ET.SubElement(case, "failure", type=mandatory[0].rule_id,
                                message=f"{len(mandatory)} mandatory violation(s)")
        failure.text = "\n".join(f"{_where(report, f).file}:{_where(report, f).line or 1}: {_message(f)}"
                                 for f in mandatory)
    elif skipped and not mine:
        ET.SubElement(case, "skipped", message=skipped)
    advisory = [f for f in mine if not f.mandatory]
    if advisory:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"advisory: {_message(f)}" for f in advisory)


def junit(report: GateReport) -> str:
    """A suite per stack (a case per rule; disabled rules `<skipped/>`), and the cross-stack rule once.
    Valid against the Jenkins/Surefire junit-10.xsd."""
    suites = ET.Element("testsuites", name=TOOL, tests="0", failures="0", errors="0", time=f"{report.seconds:.3f}")
    totals = [0, 0]
    for s in report.stacks:
        suite = _suite(suites, f"policy gate {s.stack}")
        for rule in report.rules:
            if rule["id"] == CROSS_RULE:
                continue
            mine = [f for f in report.findings if f.stack == s.stack and f.rule_id == rule["id"]]
            _case(suite, f"{s.stack}.{rule['id']}", rule["title"], report, mine, _skip_reason(report, s.stack, rule))
        tests, failures, _ = _count(suite)
        totals = [totals[0] + tests, totals[1] + failures]
    cross_rule = next((r for r in report.rules if r["id"] == CROSS_RULE), None)
    if cross_rule and len(report.stacks) > 1:
        suite = _suite(suites, "policy gate cross-stack")
        mine = [f for f in report.findings if "+" in f.stack]
        _case(suite, f"cross-stack.{CROSS_RULE}", cross_rule["title"], report, mine, None)
        tests, failures, _ = _count(suite)
        totals = [totals[0] + tests, totals[1] + failures]
    suites.set("tests", str(totals[0]))
    suites.set("failures", str(totals[1]))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# ---- GitHub workflow commands --------------------------------------------------------------

def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(command: str, file: str, line: int | None, title: str, message: str) -> str:
    place = f"file={_escape_property(file)}" + (f",line={line}" if line else "")
    return f"::{command} {place},title={_escape_property(title)}::{_escape_data(message)}"


def _overflow(errors: int, warnings: int) -> list[str]:
    hidden = [f"{n - ANNOTATIONS_SHOWN} {kind}" for n, kind in ((errors, "errors"), (warnings, "warnings"))
              if n > ANNOTATIONS_SHOWN]
    if not hidden:
        return []
    return [f"::notice title=More findings than GitHub shows::GitHub shows {ANNOTATIONS_SHOWN} error and "
            f"{ANNOTATIONS_SHOWN} warning annotations per step; {' and '.join(hidden)} more are in this log, the job "
            "summary and the gate report artifact"]


def github(report: GateReport) -> str:
    """Workflow commands: one `::error` (mandatory) or `::warning` (advisory) annotation per finding,
    on the line of the key it is about."""
    lines = []
    findings = report.sorted_findings()
    for f in findings:
        where = _where(report, f)
        lines.append(_annotation("error" if f.mandatory else "warning", where.file, where.line, f.rule_id,
                                 f"{f.stack}: {_message(f)}"))
    mandatory = sum(1 for f in findings if f.mandatory)
    lines += _overflow(mandatory, len(findings) - mandatory)
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[GateReport], str]] = {
    "table": table, "json": as_json, "markdown": markdown, "sarif": sarif, "junit": junit, "github": github,
}


def render(report: GateReport, fmt: str) -> str:
    return FORMATS[fmt](report)


# ---- config errors -------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    file: str  # relative to the project root when it is under it
    line: int | None
    key: str  # "chittyos-edge:queues.github-events.messageRetentionPeriode", or ""
    message: str  # the whole line, as stderr prints it
    detail: str = ""  # what is wrong, after the file and the key


_PROBLEM = re.compile(r"^(?P<file>[^\s:]+\.(?:ya?ml|json))(?::(?P<line>\d+))?(?::\d+)?: (?P<rest>.*)$")
_KEY = re.compile(r"^(?P<key>[\w-]+:[^\s:]+):? ")


def config_problems(lines: list[str], project_root: Path) -> list[Problem]:
    """Each problem line of a config error, with its file, key path and line."""
    problems = []
    cache: dict[str, object] = {}
    for text in lines:
        found = _PROBLEM.match(text)
        if not found:
            problems.append(Problem("", None, "", text))
            continue
        path = Path(found["file"])
        try:
            relative = path.resolve().relative_to(project_root.resolve()).as_posix() if path.is_absolute() else found["file"]
        except ValueError:
            relative = found["file"]
        key_match = _KEY.match(found["rest"])
        key = key_match["key"] if key_match else ""
        line = int(found["line"]) if found["line"] else None
        if line is None and key:
            if relative not in cache:
                cache[relative] = stack_file_positions(project_root / relative)
            namespace, _, inner = key.partition(":")
            found = nearest_position(cache[relative], inner) if namespace and inner else None  # type: ignore[arg-type]
            line = found[0] if found else None
        detail = found["rest"][key_match.end():] if key_match else found["rest"]
        problems.append(Problem(relative, line, key, text, detail))
    return problems


def render_config_error(problems: list[Problem], fmt: str) -> str:
    """A config error in one of the gate's formats: the gate did not run, the PR still sees why."""
    verdict = f"config error: {len(problems)} problem(s); the gate could not run"
    headline = f"CONFIG ERROR: {len(problems)} problem(s); the gate could not run"
    if fmt == "github":
        lines = [_annotation("error", p.file or "Pulumi.yaml", p.line, "config error", p.message) for p in problems]
        return "\n".join(lines + [headline]) + "\n"
    if fmt == "json":
        return json.dumps({"passed": False, "configError": True,
                           "problems": [{"file": p.file, "line": p.line, "keyPath": p.key, "message": p.message}
                                        for p in problems]}, indent=2) + "\n"
    if fmt == "markdown":
        lines = ["### ❌ Policy gate: config error", "",
                 "The gate could not plan the stacks: fix the stack file (or the policy config) first.", ""]
        for p in problems:
            place = _code(f"{p.file}:{p.line}" if p.line else p.file) if p.file else ""
            named = " ".join(part for part in (place, _code(p.key) if p.key else "") if part)
            lines.append(f"- {named}: {_md(p.detail)}" if named else f"- {_md(p.message)}")
        return "\n".join(lines) + "\n"
    if fmt == "sarif":
        rule = {"id": "CONFIG", "name": "stack-config-valid", "shortDescription": {"text": "The stack config is valid."},
                "helpUri": HELP_DEFAULT, "help": {"text": "Fix the key the message names; run chittyos-edge plan."}}
        results = [{"ruleId": "CONFIG", "ruleIndex": 0, "level": "error", "message": {"text": p.message},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": p.file or "Pulumi.yaml"},
                                                        "region": {"startLine": p.line or 1}}}],
                    "partialFingerprints": {"chittyosEdgeFinding/v1": hashlib.sha256(p.message.encode()).hexdigest()}}
                   for p in problems]
        return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": TOOL, "informationUri": HELP_DEFAULT, "rules": [rule]}},
            "automationDetails": {"id": "chittyos-edge-gate/config/"}, "results": results}]}, indent=2) + "\n"
    if fmt == "junit":
        suites = ET.Element("testsuites", name=TOOL, tests="1", failures="1", errors="0")
        suite = ET.SubElement(suites, "testsuite", name="policy gate config", tests="1", failures="1", errors="0",
                              skipped="0")
        case = ET.SubElement(suite, "testcase", classname="config", name="the stack config is valid")
        failure = ET.SubElement(case, "failure", type="config-error", message=verdict)
        failure.text = "\n".join(p.message for p in problems)
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
    return "\n".join([f"  {p.message}" for p in problems] + [headline]) + "\n"


__all__ = ["FORMATS", "Finding", "GateReport", "Problem", "config_problems", "render", "render_config_error"]
