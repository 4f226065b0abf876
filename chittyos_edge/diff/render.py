"""The change view in each format: text (like `pulumi preview`), json, markdown with a Mermaid picture."""

from __future__ import annotations

import json
import re
from typing import Callable

from .changes import CREATE, DELETE, REPLACE, SYMBOL, UPDATE, Change, StackChanges

MARKER = "<!-- chittyos-edge:diff -->"
# A PR comment holds 65,536 characters; the summary keeps a margin for the marker and the footer.
MARKDOWN_LIMIT = 60000
_PATHS_SHOWN = 6


class DiffReport:
    def __init__(self, base: str, head: str, stacks: list[StackChanges], findings: list):
        self.base, self.head, self.stacks, self.findings = base, head, stacks, findings

    @property
    def passed(self) -> bool:
        return not any(f.mandatory for f in self.findings)

    def findings_of(self, stack: str) -> list:
        return [f for f in self.findings if f.stack == stack]


def _paths(change: Change, limit: int = _PATHS_SHOWN) -> str:
    forced = set(change.forcing)
    shown = [f"{p} (forces replacement)" if p in forced else p for p in change.changed[:limit]]
    more = len(change.changed) - limit
    return ", ".join(shown) + (f", ... {more} more" if more > 0 else "")


def _note(change: Change) -> str:
    notes = []
    if change.protected and change.action in (DELETE, REPLACE):
        notes.append("PROTECTED")
    if not change.custom:
        notes.append("component")
    if change.action == UPDATE and not change.known_type:
        notes.append("replacement unknown: type not in the table")
    return f" [{'; '.join(notes)}]" if notes else ""


def text(report: DiffReport) -> str:
    lines = [f"Changes from {report.base} to {report.head}"]
    for stack in report.stacks:
        lines += ["", stack.headline()]
        for change in stack.changes:
            detail = f": {_paths(change)}" if change.changed else ""
            lines.append(f"  {SYMBOL[change.action]:<2} {change.kind} {change.name}{_note(change)}{detail}")
    lines.append("")
    for finding in report.findings:
        lines.append(f"{finding.enforcement.upper()}  {finding.rule_id}  {finding.stack}: {finding.message}")
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


def _verdict(report: DiffReport) -> str:
    mandatory = [f for f in report.findings if f.mandatory]
    if mandatory:
        return f"FAIL: {len(mandatory)} protected resource(s) deleted or replaced"
    return "PASS: no protected resource deleted or replaced"


def as_json(report: DiffReport) -> str:
    return json.dumps({
        "base": report.base, "head": report.head, "passed": report.passed,
        "stacks": [{"stack": s.stack, "base": s.base, "head": s.head, "summary": s.counts(), "unchanged": s.unchanged,
                    "changes": [c.as_dict() for c in s.changes]} for s in report.stacks],
        "findings": [f.as_dict() for f in report.findings],
    }, indent=2) + "\n"


# ---- markdown and Mermaid ------------------------------------------------------------------

_ICON = {CREATE: "🟢 create", UPDATE: "🔵 update", REPLACE: "🟠 replace", DELETE: "🔴 delete"}
_CLASS = {
    CREATE: "fill:#dafbe1,stroke:#1a7f37,color:#0f3d1d",
    UPDATE: "fill:#ddf4ff,stroke:#0969da,color:#0a3069",
    REPLACE: "fill:#fff8c5,stroke:#9a6700,color:#4d2d00",
    DELETE: "fill:#ffebe9,stroke:#cf222e,color:#82071e",
    "same": "fill:#f6f8fa,stroke:#d0d7de,color:#57606a",
}


def _code(text: str) -> str:
    """A code span that survives any content (CommonMark: a longer backtick fence than inside)."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _label(text: str) -> str:
    """Text inside a quoted Mermaid label."""
    return re.sub(r'["<>#]', lambda m: {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}[m.group()], text)


def mermaid(stack: StackChanges) -> str:
    """The stack as components holding resources; changed resources drawn one by one and coloured,
    the unchanged ones of each component folded into one node."""
    lines = ["flowchart LR"]
    by_component: dict[str, list[Change]] = {}
    for change in stack.changes:
        if change.custom:
            by_component.setdefault(change.component, []).append(change)
    changed_names = {(c.component, c.name) for c in stack.changes}
    components = sorted(set(stack.components) | set(by_component) | set(stack.members))
    for index, component in enumerate(components):
        kind = stack.components.get(component, "").rsplit(":", 1)[-1]
        own = [c for c in stack.changes if not c.custom and c.name == component]
        title = f"{kind} {component}".strip() if component else "stack"
        lines.append(f'  subgraph c{index}["{_label(title)}"]')
        for number, change in enumerate(by_component.get(component, [])):
            lines.append(f'    c{index}r{number}["{SYMBOL[change.action]} {_label(change.kind)} '
                         f'{_label(change.name)}"]:::{change.action}')
        same = sum(1 for name in stack.members.get(component, []) if (component, name) not in changed_names)
        if same or not by_component.get(component):
            lines.append(f'    c{index}s["{f"{same} unchanged" if same else "no resources of its own"}"]:::same')
        lines.append("  end")
        if own:
            lines.append(f"  class c{index} {own[0].action}")
    for name, style in _CLASS.items():
        lines.append(f"  classDef {name} {style}")
    return "\n".join(lines)


def _stack_markdown(report: DiffReport, stack: StackChanges, picture: bool, rows: int | None) -> list[str]:
    findings = report.findings_of(stack.stack)
    failed = any(f.mandatory for f in findings)
    lines = [f"#### {'❌' if failed else '✅' if not stack.changes else '📝'} {stack.headline()}", ""]
    if stack.changes:
        lines += ["| action | resource | type | changed inputs |", "|---|---|---|---|"]
        shown = stack.changes if rows is None else stack.changes[:rows]
        for change in shown:
            note = _note(change).strip(" []")
            paths = ", ".join(_code(p) + (" (forces replacement)" if p in change.forcing else "")
                              for p in change.changed[:_PATHS_SHOWN])
            if len(change.changed) > _PATHS_SHOWN:
                paths += f", ... {len(change.changed) - _PATHS_SHOWN} more"
            lines.append(f"| {_ICON[change.action]}{' **' + note + '**' if note else ''} | {_code(change.name)} | "
                         f"{change.kind} | {paths} |")
        if len(shown) < len(stack.changes):
            lines.append(f"\n... and {len(stack.changes) - len(shown)} more: see the job summary or "
                         "`chittyos-edge diff --format text`.")
    for f in findings:
        lines += ["", f"- **{f.enforcement}** `{f.rule_id}`: {f.message}"]
    if picture and stack.changes:
        lines += ["", "<details><summary>Picture of the stack</summary>", "", "```mermaid", mermaid(stack), "```",
                  "", "</details>"]
    lines.append("")
    return lines


def markdown(report: DiffReport, limit: int = MARKDOWN_LIMIT) -> str:
    """The change view for a job summary or a PR comment: starts with the marker the workflow finds
    its comment by, and stays under `limit` characters (pictures dropped first, then table rows)."""
    icon = "❌" if not report.passed else "✅"
    head = [MARKER, f"### {icon} Changes from {_code(report.base)} to {_code(report.head)}", "",
            f"{_verdict(report)}. Legend: 🟢 create, 🔵 update, 🟠 replace (delete and create), 🔴 delete.", ""]
    for picture, rows in ((True, None), (False, None), (False, 50), (False, 10)):
        body = [line for stack in report.stacks for line in _stack_markdown(report, stack, picture, rows)]
        document = "\n".join(head + body)
        if len(document) <= limit:
            return document + "\n"
    return document[:limit] + "\n\n(cut to fit a comment)\n"


FORMATS: dict[str, Callable[[DiffReport], str]] = {"text": text, "json": as_json, "markdown": markdown}


def render(report: DiffReport, fmt: str) -> str:
    return FORMATS[fmt](report)


__all__ = ["FORMATS", "MARKER", "DiffReport", "mermaid", "render"]
