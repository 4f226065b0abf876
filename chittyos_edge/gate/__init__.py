"""The offline policy gate and the readiness report.

`chittyos-edge gate` runs the CrossGuard pack in `policies/` over the offline plan (or a saved
plan, or a `pulumi stack export`) through the same Analyzer protocol `pulumi preview
--policy-pack policies` uses, without the Pulumi CLI, provider plugins or credentials.
`chittyos-edge readiness` maps the readiness checklist (seed 002) to what enforces each item.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

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
    writes = write_targets(args.write, FORMATS)
    from ..config import ConfigError
    from ..plan import PlanError
    from ..plan.runtime import stack_dir
    from .formats import config_problems, render, render_config_error

    root = stack_dir()
    try:
        diff = None
        if args.diff:
            from ..diff import diff_report, project_dir

            gated = [s.value for s in sources if s.kind == "stack"]
            where = project_dir(args)
            diff = lambda: diff_report(args.diff[0], args.diff[1], gated, where, policy_config_dir())  # noqa: E731
        report = run_gate(sources, diff=diff, project_root=root)
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


def policy_config_dir() -> Path:
    from . import policy_config

    return policy_config.CONFIG_DIR


def _readiness_command(args: argparse.Namespace) -> int:
    from .readiness import readiness_report

    text, _ = readiness_report(args.stack, fmt=args.format)
    sys.stdout.write(text.rstrip("\n") + "\n")
    return EXIT_OK


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
    gate.add_argument("--diff", nargs=2, metavar=("BASE", "HEAD"),
                      help="also check the change from BASE to HEAD (as `chittyos-edge diff` takes them): a "
                           "protected resource deleted or replaced is CF-DATA-003")
    gate.set_defaults(handler=_gate_command)

    readiness = commands.add_parser(
        "readiness", help="the readiness checklist (seed 002): what enforces each item and its status in a stack")
    readiness.add_argument("--stack", required=True, choices=STACKS)
    readiness.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    readiness.set_defaults(handler=_readiness_command)
