"""The offline policy gate and the readiness report.

`chittyos-edge gate` runs the CrossGuard pack in `policies/` over the offline plan (or a saved
plan, or a `pulumi stack export`) through the same Analyzer protocol `pulumi preview
--policy-pack policies` uses, without the Pulumi CLI, provider plugins or credentials.
`chittyos-edge readiness` maps the production readiness checklist to the rules that enforce each
item, and says who checks the items no program can. Both work on the project the user stands in
(its stack files, its `policies/`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..errors import EXIT_OK, EXIT_VIOLATIONS, UsageError
from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack, selected_stacks
from .formats import FORMATS


def _usage_error(message: str) -> Exception:
    return UsageError(message)


def _gate_command(args: argparse.Namespace) -> int:
    from .client import PackError
    from .policy_config import PolicyConfigError
    from .runner import Source, run_gate
    from .sources import SourceError

    files = [("plan", p) for p in args.plan or []] + [("state", p) for p in args.state or []]
    stacks = selected_stacks(args, args.project) if args.stack or not files else []
    sources = [Source("stack", s) for s in stacks] + [Source(kind, value) for kind, value in files]
    if not sources:
        raise _usage_error("gate needs at least one --stack, --plan or --state (or PULUMI_STACK)")
    if sum(1 for _, value in files if value == "-") > 1:
        raise _usage_error("only one --plan or --state can read stdin ('-')")
    writes = write_targets(args.write, FORMATS)
    from ..config import ConfigError
    from ..plan import PlanError
    from .formats import config_problems, render, render_config_error

    project = args.project
    root = project.root
    try:
        diff = None
        if args.diff:
            from ..diff import diff_report

            gated = [s.value for s in sources if s.kind == "stack"]
            diff = lambda: diff_report(args.diff[0], args.diff[1], gated, project)  # noqa: E731
        report = run_gate(sources, project=project, diff=diff)
    except (ConfigError, PlanError, PolicyConfigError, UsageError) as error:
        # A config error still reaches the PR: every requested format says so, with file and line.
        problems = config_problems(str(error).splitlines(), root)
        emit(writes, args.format, lambda fmt: render_config_error(problems, fmt))
        raise _usage_error(str(error)) from None
    except (SourceError, PackError) as error:
        raise _usage_error(str(error)) from None
    emit(writes, args.format, lambda fmt: render(report, fmt))
    return EXIT_OK if report.passed else EXIT_VIOLATIONS


def write_targets(specs: list[str] | None, formats) -> list[tuple[str, Path]]:
    """`--write FORMAT=FILE` options (gate, diff) as (format, path) pairs."""
    writes = []
    for spec in specs or []:
        fmt, _, target = spec.partition("=")
        if fmt not in formats or not target:
            raise _usage_error(f"--write {spec!r}: use FORMAT=FILE with FORMAT one of {', '.join(formats)}")
        writes.append((fmt, Path(target)))
    return writes


def emit(writes: list[tuple[str, Path]], fmt: str, render_as: Callable[[str], str]) -> None:
    """Write each `--write` file, then the `--format` output on stdout."""
    for target_format, target in writes:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_as(target_format))
    sys.stdout.write(render_as(fmt).rstrip("\n") + "\n")


def _readiness_command(args: argparse.Namespace) -> int:
    from .policy_config import PolicyConfigError
    from .readiness import failing, readiness, render

    stack = one_stack(args, args.project)
    try:
        rows = readiness(stack, project=args.project)
    except PolicyConfigError as error:
        raise _usage_error(str(error)) from None
    sys.stdout.write(render(stack, rows, args.format).rstrip("\n") + "\n")
    return EXIT_VIOLATIONS if failing(rows, args.fail_on) else EXIT_OK


READINESS_STATUSES = """\
statuses: FAIL (a mandatory finding), disabled (a rule is off for the stack), waived (a clause is
waived in policies/config/<stack>.json, with its reason), advisory (a rule only warns), pass (every
rule of the item is mandatory and passes), manual (people check it; the row says who)."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `gate` and `readiness` to the chittyos-edge CLI."""
    gate = commands.add_parser(
        "gate", help="run the policy pack over plans or a deployed stack's export; exit 1 on mandatory violations",
        formatter_class=HELP_FORMATTER,
        description="Run the CrossGuard pack in the project's policies/ through the Analyzer protocol, as `pulumi\n"
                    "preview --policy-pack policies` would, without the Pulumi CLI or credentials, with the policy\n"
                    "config in policies/config/<stack>.json (the gate's own rules: <stack>.gate.json).",
        epilog=epilog(
            ["chittyos-edge gate -s staging -s production          # plan both stacks, gate them",
             "chittyos-edge gate --plan plans/production.json       # a saved plan (chittyos-edge plan --out)",
             "chittyos-edge plan -s production --out - | chittyos-edge gate --plan -",
             "pulumi stack export -s production | chittyos-edge gate --state -",
             "chittyos-edge gate -s production --format github --write sarif=gate.sarif --write markdown=summary.md"],
            ["0  no mandatory violation",
             "1  at least one mandatory violation",
             "2  usage or config error: bad stack file or policy config, unreadable plan, pack failed to start"]))
    add_stack(gate, repeatable=True, what="plan this stack, then gate it")
    gate.add_argument("--plan", action="append", metavar="FILE",
                      help="gate a saved plan (chittyos-edge plan --out); '-' reads stdin")
    gate.add_argument("--state", action="append", metavar="FILE",
                      help="gate a `pulumi stack export` of a deployed stack; '-' reads stdin")
    gate.add_argument("--format", choices=list(FORMATS), default="table", help="output on stdout (default: table)")
    gate.add_argument("--write", action="append", metavar="FORMAT=FILE",
                      help="also write the report in FORMAT to FILE (repeatable), e.g. markdown=summary.md")
    gate.add_argument("--diff", nargs=2, metavar=("BASE", "HEAD"),
                      help="also check the change from BASE to HEAD (as `chittyos-edge diff` takes them): a "
                           "protected resource deleted or replaced is CF-DATA-003")
    gate.set_defaults(handler=_gate_command)

    readiness = commands.add_parser(
        "readiness", help="the production readiness checklist: each item's rules and status in a stack, or who "
                          "checks it by hand",
        formatter_class=HELP_FORMATTER,
        description="Gate the stack's plan and list every item of the production readiness checklist with the\n"
                    "rules that enforce it and its status, or who checks it by hand.\n\n" + READINESS_STATUSES,
        epilog=epilog(
            ["chittyos-edge readiness -s production",
             "chittyos-edge readiness -s production --fail-on fail       # exit 1 if an item FAILs",
             "chittyos-edge readiness -s production --fail-on not-pass --format markdown >> \"$GITHUB_STEP_SUMMARY\"",
             "chittyos-edge readiness -s staging --format json | jq '.items[] | select(.status != \"pass\")'"],
            ["0  report printed (and no item matched --fail-on)", "1  an item matched --fail-on",
             "2  usage or config error"]))
    add_stack(readiness, repeatable=False, what="the stack to report on")
    readiness.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                           help="output on stdout (default: table)")
    readiness.add_argument("--fail-on", choices=("fail", "advisory", "waived", "not-pass"),
                           help="exit 1 when an item has this status or a worse one: fail (FAIL), advisory (also "
                                "advisory), waived (also waived), not-pass (any checkable item that is not pass)")
    readiness.set_defaults(handler=_readiness_command)
