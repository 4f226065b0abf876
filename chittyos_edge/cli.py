"""`chittyos-edge`: the offline plan and the tools built on it.

Exit codes (an interface: CI jobs rely on them): 0 success, 1 policy violations (gate only),
2 usage or config error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import STACKS
from .errors import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, UsageError  # noqa: F401 (re-exported)


def _plan_command(args: argparse.Namespace) -> int:
    from .plan import make_plan, dump_plan, summarize

    stacks = args.stack or list(STACKS)
    if args.out and len(stacks) > 1:
        raise UsageError("--out takes one --stack; use --out-dir DIR to write one file per stack")
    for stack in stacks:
        plan = make_plan(stack)
        text = dump_plan(plan)
        target = Path(args.out) if args.out else (Path(args.out_dir) / f"{stack}.json" if args.out_dir else None)
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        print(summarize(plan))
        if target:
            print(f"  written to {target}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chittyos-edge",
        description="Offline plan, policy gate and stack outputs of the ChittyOS Cloudflare estate.")
    parser.add_argument("--project-dir", metavar="DIR",
                        help="folder holding Pulumi.<stack>.yaml (default: this project's root)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan", help="run the program under Pulumi's mock runtime and print/write what `pulumi up` would register")
    plan.add_argument("--stack", action="append", choices=STACKS,
                      help="stack to plan (repeatable; default: all stacks)")
    target = plan.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write the plan JSON of the one --stack to FILE")
    target.add_argument("--out-dir", metavar="DIR", help="write <DIR>/<stack>.json for each stack")
    plan.set_defaults(handler=_plan_command)

    # -- gate and readiness commands (register here) --
    from .gate import register as register_gate

    register_gate(commands)

    # -- outputs command (register here) --
    from .outputs import register as register_outputs

    register_outputs(commands)

    # -- inventory command (register here) --
    from .inventory import register as register_inventory

    register_inventory(commands)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError
    from .plan import PlanError
    from .plan.runtime import set_stack_dir, stack_dir

    parser = build_parser()
    args = parser.parse_args(argv)
    default_dir = stack_dir()
    try:
        if args.project_dir:
            set_stack_dir(Path(args.project_dir))
        return args.handler(args)
    except (ConfigError, PlanError, UsageError) as error:
        for line in str(error).splitlines():
            print(f"chittyos-edge: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except OSError as error:
        print(f"chittyos-edge: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return EXIT_USAGE
    finally:
        set_stack_dir(default_dir)


if __name__ == "__main__":
    sys.exit(main())
