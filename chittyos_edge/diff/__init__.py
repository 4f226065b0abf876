"""`chittyos-edge diff BASE HEAD`: what a change does to each stack, resource by resource.

Each side is a plan file, a folder of plan files, a checkout, or a git revision planned in a
temporary worktree (see `sides.py`). Resources are matched by URN (`changes.py`); replacements come
from the provider's force-new inputs (`replace.py`). Deleting or replacing a protected resource is
the gate finding CF-DATA-003, at the level `policies/config/<stack>.gate.json` gives it: exit 1 when
it is mandatory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import EXIT_OK, EXIT_VIOLATIONS, UsageError
from ..project import Project
from ..usage import HELP_FORMATTER, add_stack, epilog, selected_stacks
from .changes import StackChanges, compare
from .render import FORMATS, DiffReport, render


def protected_findings(changes: StackChanges, config_dir: Path) -> list:
    """CF-DATA-003 findings of one stack's changes, at the stack's configured level."""
    from ..gate import policy_config
    from ..gate.findings import Finding
    from ..gate.gate_rules import PROTECTED_KEPT, protected_changes

    problems = list(protected_changes(changes))
    if not problems:
        return []
    try:
        level = policy_config.gate_levels(changes.stack, config_dir)[PROTECTED_KEPT.name]
    except policy_config.PolicyConfigError as error:
        raise UsageError(str(error)) from None
    if level not in ("mandatory", "advisory"):
        return []
    rule = PROTECTED_KEPT
    return [Finding(stack=changes.stack, rule_id=rule.id, policy=rule.name, title=rule.title, severity=rule.severity,
                    enforcement=level, message=message, urn=urn, remediation=rule.remediation,
                    checklist=rule.checklist, source="gate") for urn, message in problems]


def diff_report(base: str, head: str, stacks: list[str], project: Project) -> DiffReport:
    """Load both sides, compare each stack, and judge the changes with the project's policy config."""
    from .sides import _git, load_sides

    repo = project.root
    if not Path(base).exists() or not Path(head).exists():
        repo = Path(_git(project.root, "rev-parse", "--show-toplevel"))
    first, second = load_sides(base, head, stacks, list(project.stacks()), repo, project.root)
    results = [compare(first.plans[s], second.plans[s], first.origin, second.origin) for s in second.plans]
    findings = [f for changes in results for f in protected_findings(changes, project.policy_config_dir)]
    return DiffReport(first.origin, second.origin, results, findings)


def _diff_command(args: argparse.Namespace) -> int:
    from ..gate import emit, write_targets

    writes = write_targets(args.write, FORMATS)
    report = diff_report(args.base, args.head, selected_stacks(args, args.project), args.project)
    emit(writes, args.format, lambda fmt: render(report, fmt))
    return EXIT_OK if report.passed else EXIT_VIOLATIONS


def register(commands: argparse._SubParsersAction) -> None:
    """Add `diff` to the chittyos-edge CLI."""
    diff = commands.add_parser(
        "diff", help="what going from BASE to HEAD does to each stack: creates, updates, replaces, deletes",
        formatter_class=HELP_FORMATTER,
        description="List, per stack, the resources a change creates, updates, replaces or deletes, with the\n"
                    "changed input paths, as `pulumi preview --diff` would (offline, from the plans). Each side is\n"
                    "a plan file (chittyos-edge plan --out), a folder of plan files (plan --out-dir), a checkout,\n"
                    "or a git revision (planned by its own code in a temporary git worktree).",
        epilog=epilog(
            ["chittyos-edge diff main HEAD                          # both stacks, two git revisions",
             "chittyos-edge diff base.json head.json                # two saved plans of one stack",
             "chittyos-edge diff origin/main . -s production --format markdown   # the working tree",
             "chittyos-edge diff main HEAD --write markdown=diff.md --write json=diff.json"],
            ["0  no mandatory finding",
             "1  a protected resource would be deleted or replaced (CF-DATA-003, mandatory in the stack)",
             "2  usage error: unknown revision, unreadable plan, the plan of a side failed"]))
    diff.add_argument("base", metavar="BASE", help="plan file, folder of plans, checkout or git revision")
    diff.add_argument("head", metavar="HEAD", help="plan file, folder of plans, checkout or git revision")
    add_stack(diff, repeatable=True, what="stack to compare",
              otherwise="the stacks of plan-file sides, else every stack")
    diff.add_argument("--format", choices=list(FORMATS), default="text", help="output on stdout (default: text)")
    diff.add_argument("--write", action="append", metavar="FORMAT=FILE",
                      help="also write the change view in FORMAT to FILE (repeatable), e.g. markdown=diff.md")
    diff.set_defaults(handler=_diff_command)


__all__ = ["DiffReport", "StackChanges", "compare", "diff_report", "register"]
