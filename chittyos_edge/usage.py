"""What every command's parser shares: `-C/--cwd`, `-s/--stack` (and `PULUMI_STACK`), and a
`--help` that ends with examples and exit codes.

Command modules (`gate/`, `outputs/`) use these helpers and never import `chittyos_edge.cli`.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Sequence

from .errors import UsageError
from .project import Project

STACK_ENV = "PULUMI_STACK"
FILL_WIDTH = 96


class HELP_FORMATTER(argparse.RawDescriptionHelpFormatter):  # noqa: N801 (the name every command imports)
    """Descriptions keep their line breaks (tables, lists of sources); a paragraph written as one long
    line is filled to the width of the hand-wrapped ones."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        for line in text.splitlines():
            if len(line) > FILL_WIDTH + 4 and not line[:1].isspace():
                lines += textwrap.wrap(line, FILL_WIDTH, break_on_hyphens=False, break_long_words=False)
            else:
                lines.append(line)
        return "\n".join(indent + line for line in lines)


def epilog(examples: Sequence[str], exit_codes: Sequence[str]) -> str:
    """The end of a command's --help: examples, then what each exit status means."""
    lines = ["examples:"] + [f"  {example}" for example in examples]
    lines += ["", "exit codes:"] + [f"  {code}" for code in exit_codes]
    return "\n".join(lines)


def add_location(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """`-C/--cwd DIR`, accepted before and after the subcommand (the later one wins).

    A subcommand's copy defaults to SUPPRESS so that, absent there, it leaves the value given
    before the subcommand alone.
    """
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument("-C", "--cwd", metavar="DIR", default=default,
                        help="run as if chittyos-edge had been started in DIR: the project is the nearest "
                             "Pulumi.yaml at or above it, and relative paths in other options are relative to it")
    # Deprecated spelling of -C (it used to move only the stack files): hidden, warned about.
    parser.add_argument("--project-dir", metavar="DIR", default=default, help=argparse.SUPPRESS)


def add_stack(parser: argparse.ArgumentParser, *, repeatable: bool, what: str, otherwise: str = "") -> None:
    """`-s/--stack STACK`: a `Pulumi.<STACK>.yaml` of the project; default `$PULUMI_STACK` (as pulumi)."""
    details = ["repeatable"] if repeatable else []
    details.append(f"default: ${STACK_ENV}" + (f", else {otherwise}" if otherwise else ""))
    parser.add_argument("-s", "--stack", metavar="STACK", action="append" if repeatable else "store",
                        help=f"{what} ({'; '.join(details)})")


def selected_stacks(args: argparse.Namespace, project: Project, *, default_all: bool = False) -> list[str]:
    """The stacks named by --stack (repeats dropped), else $PULUMI_STACK, else (with `default_all`)
    every stack of the project. Unknown stacks are refused, listing the project's."""
    given = args.stack or []
    if isinstance(given, str):
        given = [given]
    if not given and os.environ.get(STACK_ENV):
        given = [os.environ[STACK_ENV]]
    if not given:
        if not default_all:
            return []
        stacks = list(project.stacks())
        if not stacks:
            raise UsageError(f"no Pulumi.<stack>.yaml in {project.root}: this project has no stack yet")
        return stacks
    return list(dict.fromkeys(project.stack(name) for name in given))


def one_stack(args: argparse.Namespace, project: Project | None) -> str:
    """The one stack a command works on: --stack, else $PULUMI_STACK (checked against the project's
    stacks when there is a project)."""
    name = args.stack or os.environ.get(STACK_ENV)
    if not name:
        known = f": one of {', '.join(project.stacks())}" if project is not None else ""
        raise UsageError(f"--stack is required (or set {STACK_ENV}){known}")
    return project.stack(name) if project is not None else name.rsplit("/", 1)[-1]
