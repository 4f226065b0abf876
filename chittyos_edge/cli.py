"""`chittyos-edge`: the offline plan and the tools built on it.

Exit codes (an interface: CI jobs rely on them): 0 success, 1 policy violations (gate only),
2 usage or config error. Errors are one line on stderr, never a traceback.

Like `pulumi`, every command works on the project the user stands in (the nearest `Pulumi.yaml`
at or above the working directory, or `-C DIR`); see `chittyos_edge.project`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from .errors import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, UsageError  # noqa: F401 (re-exported)
from .usage import HELP_FORMATTER, add_location, add_stack, epilog, selected_stacks

PROG = "chittyos-edge"


def _plan_command(args: argparse.Namespace) -> int:
    from .plan import dump_plan, make_plan, summarize

    stacks = selected_stacks(args, args.project, default_all=True)
    if args.out and len(stacks) > 1:
        raise UsageError("--out takes one --stack; use --out-dir DIR to write one file per stack")
    to_stdout = args.out == "-"
    # With `--out -` stdout carries the plan JSON alone: the summary goes to stderr.
    report = sys.stderr if to_stdout else sys.stdout
    # Every stack is planned before anything is written: a config error in one leaves no file behind.
    plans = {stack: make_plan(stack, project=args.project) for stack in stacks}
    for stack, plan in plans.items():
        text = dump_plan(plan)
        target = None if to_stdout else (
            Path(args.out) if args.out else (Path(args.out_dir) / f"{stack}.json" if args.out_dir else None))
        if to_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        elif target:
            _write_whole(target, text)
        print(summarize(plan), file=report)
        if target:
            print(f"  written to {target}", file=report)
    return EXIT_OK


def _write_whole(target: Path, text: str) -> None:
    """Write `target` whole or not at all (a reader never sees half a plan)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=HELP_FORMATTER,
        description="The toolchain of the ChittyOS Cloudflare estate: the offline plan, the change view and the\n"
                    "policy gate of every change; the stack outputs; local runs, smoke tests, backups, staged\n"
                    "rollouts and the inventory of what already runs.\n\n"
                    "Every command works on the project you stand in, as pulumi does: the nearest Pulumi.yaml\n"
                    "at or above the working directory (or -C DIR). Stacks are its Pulumi.<stack>.yaml files.",
        epilog=epilog(
            ["chittyos-edge plan                          # plan every stack, print summaries",
             "chittyos-edge gate -s staging -s production # plan and gate both stacks",
             "chittyos-edge -C ../other-checkout gate -s production",
             "chittyos-edge outputs -s production --source plan --format json",
             "chittyos-edge COMMAND --help                # options and examples of one command"],
            ["0  success",
             "1  the gate found a mandatory policy violation",
             "2  usage or config error (one line per problem on stderr, no traceback)"]))
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    add_location(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plan = commands.add_parser(
        "plan", help="run the program under Pulumi's mock runtime and print/write what `pulumi up` would register",
        formatter_class=HELP_FORMATTER,
        description="Run the program (the code `pulumi up` runs) in-process under Pulumi's mock runtime with the\n"
                    "stack's config, and print a summary of every resource it registers, or write the plan JSON.",
        epilog=epilog(
            ["chittyos-edge plan                                  # every stack, summaries only",
             "chittyos-edge plan -s production --out plans/production.json",
             "chittyos-edge plan --out-dir plans/                 # plans/<stack>.json for each stack",
             "chittyos-edge plan -s staging --out - | jq '.resources | length'   # JSON on stdout, summary on stderr",
             "PULUMI_STACK=staging chittyos-edge plan"],
            ["0  planned", "2  usage or config error"]))
    add_stack(plan, repeatable=True, what="a stack to plan (its Pulumi.<stack>.yaml)", otherwise="every stack")
    target = plan.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write the plan JSON of the one --stack to FILE ('-': stdout)")
    target.add_argument("--out-dir", metavar="DIR", help="write <DIR>/<stack>.json for each stack")
    plan.set_defaults(handler=_plan_command)

    # -- gate and readiness commands (register here) --
    from .gate import register as register_gate

    register_gate(commands)

    # -- diff command (register here) --
    from .diff import register as register_diff

    register_diff(commands)

    # -- outputs command (register here) --
    from .outputs import register as register_outputs

    register_outputs(commands)

    # -- dev, smoke, backup and restore commands (register here) --
    from .ops import register as register_ops

    register_ops(commands)

    # -- rollout, rollback and flag commands (register here) --
    from .rollout import register as register_rollout

    register_rollout(commands)

    # -- inventory command (register here) --
    from .inventory import register as register_inventory

    register_inventory(commands)

    for command in commands.choices.values():
        add_location(command, top_level=False)
    return parser


def _enter(args: argparse.Namespace) -> None:
    """Move to -C DIR (as `pulumi -C` does) and find the project there."""
    from .project import Project

    if args.project_dir:
        print(f"{PROG}: warning: --project-dir is deprecated; use -C/--cwd DIR (it now moves every path "
              "to DIR's project, not only the stack files)", file=sys.stderr)
    where = args.cwd or args.project_dir
    if where:
        try:
            os.chdir(where)
        except OSError as error:
            raise UsageError(f"-C {where}: {error.strerror or 'cannot enter it'}") from None
    args.project = Project.discover() if getattr(args, "needs_project", True) else None


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError
    from .plan import PlanError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    started_in = os.getcwd()
    try:
        _enter(args)
        return args.handler(args)
    except (ConfigError, PlanError, UsageError) as error:
        for line in str(error).splitlines():
            print(f"{PROG}: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except OSError as error:
        print(f"{PROG}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return EXIT_USAGE
    finally:
        os.chdir(started_in)


def run() -> None:
    """The process entry point (`chittyos-edge`, `python -m chittyos_edge`): main() as a short-lived
    process (see chittyos_edge/process.py)."""
    from .process import exit_now, start_short_lived

    start_short_lived()
    try:
        code = main()
    except SystemExit as stop:  # argparse's usage errors and --help
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else EXIT_USAGE)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    exit_now(code)


if __name__ == "__main__":
    run()
