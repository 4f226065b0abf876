"""The offline policy gate and the readiness report.

`chittyos-edge gate` runs the CrossGuard pack in `policies/` over the offline plan (or a saved
plan, or a `pulumi stack export`) through the same Analyzer protocol `pulumi preview
--policy-pack policies` uses, without the Pulumi CLI, provider plugins or credentials.
`chittyos-edge readiness` maps the production readiness checklist to the rules that enforce each
item, and says who checks the items no program can.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import STACKS
from .formats import FORMATS

from ..errors import EXIT_OK, EXIT_VIOLATIONS, UsageError


def _usage_error(message: str) -> Exception:
    return UsageError(message)


def _gate_command(args: argparse.Namespace) -> int:
    from .client import PackError
    from .policy_config import PolicyConfigError
    from .runner import Source, run_gate
    from .sources import SourceError

    sources = ([Source("stack", s) for s in args.stack or []] + [Source("plan", p) for p in args.plan or []]
               + [Source("state", p) for p in args.state or []])
    if not sources:
        raise _usage_error("gate needs at least one --stack, --plan or --state")
    writes = []
    for spec in args.write or []:
        fmt, _, target = spec.partition("=")
        if fmt not in FORMATS or not target:
            raise _usage_error(f"--write {spec!r}: use FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}")
        writes.append((fmt, Path(target)))
    try:
        report = run_gate(sources)
    except (SourceError, PolicyConfigError, PackError) as error:
        raise _usage_error(str(error)) from None
    from .formats import render

    for fmt, target in writes:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(report, fmt))
    sys.stdout.write(render(report, args.format).rstrip("\n") + "\n")
    return EXIT_OK if report.passed else EXIT_VIOLATIONS


def _readiness_command(args: argparse.Namespace) -> int:
    from .policy_config import PolicyConfigError
    from .readiness import failing, readiness, render

    try:
        rows = readiness(args.stack)
    except PolicyConfigError as error:
        raise _usage_error(str(error)) from None
    sys.stdout.write(render(args.stack, rows, args.format).rstrip("\n") + "\n")
    return EXIT_VIOLATIONS if failing(rows, args.fail_on) else EXIT_OK


READINESS_EXAMPLES = """\
statuses: FAIL (a mandatory finding), disabled (a rule is off for the stack), waived (a clause is
waived in policies/config/<stack>.json, with its reason), advisory (a rule only warns), pass (every
rule of the item is mandatory and passes), manual (people check it; the row says who).

examples:
  chittyos-edge readiness --stack production
  chittyos-edge readiness --stack production --fail-on fail        # exit 1 if an item FAILs
  chittyos-edge readiness --stack production --fail-on not-pass --format markdown >> "$GITHUB_STEP_SUMMARY"
  chittyos-edge readiness --stack staging --format json | jq '.items[] | select(.status != "pass")'

exit codes: 0 report printed (and nothing matched --fail-on), 1 an item matched --fail-on,
2 usage or policy-config error."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `gate` and `readiness` to the chittyos-edge CLI."""
    gate = commands.add_parser(
        "gate", help="run the policy pack over plans or a deployed stack's export; exit 1 on mandatory violations",
        description="Run the CrossGuard pack in policies/ through the Analyzer protocol, as `pulumi preview "
                    "--policy-pack policies` would, without the Pulumi CLI or credentials. Exit 0 without "
                    "mandatory violations, 1 with any, 2 on a usage or config error.")
    gate.add_argument("--stack", action="append", choices=STACKS, help="plan this stack, then gate it (repeatable)")
    gate.add_argument("--plan", action="append", metavar="FILE", help="gate a saved plan (chittyos-edge plan --out)")
    gate.add_argument("--state", action="append", metavar="FILE", help="gate a `pulumi stack export` of a deployed stack")
    gate.add_argument("--format", choices=list(FORMATS), default="table", help="output on stdout (default: table)")
    gate.add_argument("--write", action="append", metavar="FORMAT=FILE",
                      help="also write the report in FORMAT to FILE (repeatable), e.g. markdown=summary.md")
    gate.set_defaults(handler=_gate_command)

    readiness = commands.add_parser(
        "readiness", help="the production readiness checklist: each item's rules and status in a stack, or who "
                          "checks it by hand",
        description="Gate the stack's plan and list every item of the production readiness checklist with the "
                    "rules that enforce it and its status, or who checks it by hand.",
        epilog=READINESS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    readiness.add_argument("--stack", required=True, choices=STACKS)
    readiness.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                           help="output on stdout (default: table)")
    readiness.add_argument("--fail-on", choices=("fail", "advisory", "waived", "not-pass"),
                           help="exit 1 when an item has this status or a worse one: fail (FAIL), advisory (also "
                                "advisory), waived (also waived), not-pass (any checkable item that is not pass)")
    readiness.set_defaults(handler=_readiness_command)
