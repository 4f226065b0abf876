"""`chittyos-edge outputs`: a stack's outputs, validated against the contract, in a consumer's format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import STACKS
from .errors import OutputsError

FORMATS = ("json", "wrangler", "env")


def register(commands) -> None:
    """Add the `outputs` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "outputs", help="print a stack's outputs (the output contract) as JSON, a wrangler env section or env lines",
        description="Read a stack's outputs from the offline plan (default), from `pulumi stack output --json "
                    "[--show-secrets]` on stdin (--stdin), or from the stack's checkpoint in a self-managed "
                    "S3/R2 backend (--backend), validate them against the output contract and render them.")
    parser.add_argument("--stack", choices=STACKS, help="the stack whose outputs to read")
    parser.add_argument("--format", choices=FORMATS, default="json",
                        help="json (the contract), wrangler ([env.<stack>] of one Worker), env (KEY=value lines)")
    parser.add_argument("--service", metavar="KEY", help="only this service (its key in the stack config)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stdin", action="store_true",
                        help="read `pulumi stack output --json [--show-secrets] --stack S` from stdin")
    source.add_argument("--backend", metavar="URL", nargs="?", const="",
                        help="read the checkpoint from the state backend: the project's (backend.url in "
                             "Pulumi.yaml) without URL, else s3://<bucket>[/<prefix>]?endpoint=<url>&region=auto")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    target.add_argument("--out-dir", metavar="DIR",
                        help="with --format wrangler: write DIR/<service>.<stack>.wrangler.toml for every service")
    parser.add_argument("--schema", action="store_true",
                        help="print the contract's JSON Schema (schemas/stack-outputs.schema.json) and exit")
    parser.set_defaults(handler=_outputs_command)


def _outputs_command(args: argparse.Namespace) -> int:
    from ..errors import EXIT_OK, UsageError

    try:
        if args.schema:
            from ..outputs_contract import json_schema

            _emit(json.dumps(json_schema(), indent=2) + "\n", args.out)
            return EXIT_OK
        if not args.stack:
            raise OutputsError(f"--stack is required: one of {', '.join(STACKS)}")
        if args.out_dir and args.format != "wrangler":
            raise OutputsError("--out-dir writes one wrangler file per service; use --out FILE with "
                               f"--format {args.format}")
        outputs, source = _read(args)
        from . import render

        if args.format == "json":
            _emit(render.render_json(outputs, args.service), args.out)
        elif args.format == "env":
            _emit(render.render_env(outputs, args.service), args.out)
        elif args.out_dir:
            keys = [args.service] if args.service else sorted(outputs.services)
            for key in keys:
                target = Path(args.out_dir) / f"{key}.{args.stack}.wrangler.toml"
                _emit(render.render_wrangler(outputs, key, source=source), str(target))
                print(f"written {target}")
        else:
            _emit(render.render_wrangler(outputs, args.service, source=source), args.out)
    except OutputsError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _read(args: argparse.Namespace):
    from . import sources

    if args.stdin:
        return sources.from_json_text(sys.stdin.read(), stack=args.stack), "`pulumi stack output --json`"
    if args.backend is not None:
        from ..diff import project_dir
        from .backend import project_backend_url

        url = args.backend or project_backend_url(project_dir(args))
        return sources.from_backend(url, stack=args.stack), "the state backend"
    return sources.from_plan(args.stack), "the offline plan"


def _emit(text: str, out: str | None) -> None:
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    else:
        sys.stdout.write(text)
