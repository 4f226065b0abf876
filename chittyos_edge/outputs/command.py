"""`chittyos-edge outputs`: a stack's outputs, validated against the contract, in a consumer's format.

Where the outputs come from is explicit (`--source`). The default is the deployed stack's state in
the backend (`--backend URL` or `$PULUMI_BACKEND_URL`), as `pulumi stack output` reads real state;
`--source plan` reads the offline plan, whose ids are stand-ins until the first `pulumi up`
unless the resource is adopted, so the formats a consumer pastes (wrangler, env) refuse them
unless `--allow-stand-ins`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack
from .errors import OutputsError

FORMATS = ("json", "wrangler", "env")
SOURCES = ("backend", "stdin", "plan")
BACKEND_ENV = "PULUMI_BACKEND_URL"
ORIGINS = {"backend": "the state backend", "stdin": "`pulumi stack output --json`",
           "plan": "the offline plan (--source plan)"}


def register(commands) -> None:
    """Add the `outputs` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "outputs", help="print a stack's outputs (the output contract) as JSON, a wrangler env section or env lines",
        formatter_class=HELP_FORMATTER,
        description="Read a stack's outputs, validate them against the output contract and render them.\n\n"
                    "Sources (--source):\n"
                    "  backend  the stack's checkpoint in the self-managed S3/R2 state backend (the default):\n"
                    f"           --backend URL, ${BACKEND_ENV}, or the backend.url of the project's Pulumi.yaml\n"
                    "  stdin    `pulumi stack output --json [--show-secrets]` piped in\n"
                    "  plan     the offline plan: adopted ids are real, the others are stand-ins until the\n"
                    "           first `pulumi up` (listed in standIns; wrangler and env refuse them unless\n"
                    "           --allow-stand-ins)",
        epilog=epilog(
            ["chittyos-edge outputs -s production --backend 's3://chittyos-pulumi-state?endpoint=...&region=auto'",
             "pulumi stack output --json --show-secrets -s production | chittyos-edge outputs -s production "
             "--source stdin --format env",
             "chittyos-edge outputs -s production --source plan                # contract JSON, standIns listed",
             "chittyos-edge outputs -s production --source plan --format wrangler --service chittyconnect "
             "--allow-stand-ins",
             "chittyos-edge outputs --schema --out schemas/stack-outputs.schema.json"],
            ["0  outputs printed",
             "2  usage error: no or bad source, outputs of another stack or contract major, stand-ins refused"]))
    add_stack(parser, repeatable=False, what="the stack whose outputs to read")
    parser.add_argument("--format", choices=FORMATS, default="json",
                        help="json (the contract), wrangler ([env.<stack>] of one Worker), env (KEY=value lines)")
    parser.add_argument("--service", metavar="KEY", help="only this service (its key in the stack config)")
    parser.add_argument("--source", choices=SOURCES,
                        help="where the outputs come from (default: backend; see above)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stdin", action="store_true", help="the same as --source stdin")
    source.add_argument("--backend", metavar="URL",
                        help=f"the state backend, s3://<bucket>[/<prefix>]?endpoint=<url>&region=auto "
                             f"(default: ${BACKEND_ENV})")
    parser.add_argument("--allow-stand-ins", action="store_true",
                        help="let wrangler and env print the offline plan's stand-in ids (each marked)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout ('-': stdout)")
    target.add_argument("--out-dir", metavar="DIR",
                        help="with --format wrangler: write DIR/<service>.<stack>.wrangler.toml for every service")
    parser.add_argument("--schema", action="store_true",
                        help="print the contract's JSON Schema (schemas/stack-outputs.schema.json) and exit")
    # Only --source plan needs the project; the backend and stdin serve readers in other repos too.
    parser.set_defaults(handler=_outputs_command, needs_project=False)


def _outputs_command(args: argparse.Namespace) -> int:
    from ..errors import EXIT_OK, UsageError

    try:
        if args.schema:
            from ..outputs_contract import json_schema

            _emit(json.dumps(json_schema(), indent=2) + "\n", args.out)
            return EXIT_OK
        if args.out_dir and args.format != "wrangler":
            raise OutputsError("--out-dir writes one wrangler file per service; use --out FILE with "
                               f"--format {args.format}")
        source = _source(args)
        outputs, stack = _read(args, source)
        from . import render

        keys = ([args.service] if args.service else sorted(outputs.services)) if args.out_dir else [args.service]
        _check_stand_ins(args, outputs, keys, source)
        if args.format == "json":
            _emit(render.render_json(outputs, args.service), args.out)
        elif args.format == "env":
            _emit(render.render_env(outputs, args.service), args.out)
            _note_secrets(render.env_pairs(outputs, args.service))
        elif args.out_dir:
            for key in keys:
                target = Path(args.out_dir) / f"{key}.{stack}.wrangler.toml"
                _emit(render.render_wrangler(outputs, key, source=ORIGINS[source]), str(target))
                print(f"written {target}")
        else:
            _emit(render.render_wrangler(outputs, args.service, source=ORIGINS[source]), args.out)
    except OutputsError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _source(args: argparse.Namespace) -> str:
    """--source, reconciled with the older --stdin and --backend URL spellings."""
    implied = "stdin" if args.stdin else "backend" if args.backend else None
    if args.source and implied and args.source != implied:
        flag = "--stdin" if args.stdin else "--backend URL"
        raise OutputsError(f"{flag} reads the {implied} source; it contradicts --source {args.source}")
    return args.source or implied or "backend"


def _read(args: argparse.Namespace, source: str):
    from . import sources

    if source == "plan":
        from ..project import Project

        project = Project.discover()
        stack = one_stack(args, project)
        return sources.from_plan(stack, project), stack
    stack = one_stack(args, None)
    if source == "stdin":
        return sources.from_json_text(sys.stdin.read(), stack=stack), stack
    url = args.backend or os.environ.get(BACKEND_ENV) or _project_backend()
    if not url:
        raise OutputsError(f"no state backend to read: pass --backend URL or set {BACKEND_ENV} (the URL given to "
                           "`pulumi login`); or pipe `pulumi stack output --json` with --source stdin, or read "
                           "the offline plan (stand-in ids) with --source plan")
    return sources.from_backend(url, stack=stack), stack


def _project_backend() -> str | None:
    """The backend the project's Pulumi.yaml names (`backend.url`), as every `pulumi` command there uses it."""
    from ..project import Project, ProjectError
    from .backend import project_backend_url

    try:
        return project_backend_url(Project.discover().root)
    except (ProjectError, OutputsError):
        return None


def _check_stand_ins(args: argparse.Namespace, outputs, keys: list[str | None], source: str) -> None:
    """Warn about stand-ins on stderr; refuse them in the formats consumers paste, unless allowed."""
    from .render import stand_ins

    if outputs.stand_ins is None:
        return
    # A wrangler section holds one Worker's bindings, nothing stack-wide (the tunnel).
    stack_wide = args.format != "wrangler"
    made_up = {path for key in keys for path in stand_ins(outputs, key, stack_wide=stack_wide).values()}
    if args.format in ("wrangler", "env") and made_up and not args.allow_stand_ins:
        shown = ", ".join(sorted(made_up)[:3]) + (", ..." if len(made_up) > 3 else "")
        raise OutputsError(f"{len(made_up)} id(s) here are stand-ins the offline plan made up ({shown}); a "
                           f"{args.format} file would pass them off as real: read the deployed stack (--source "
                           "backend or --source stdin), or pass --allow-stand-ins to print them marked")
    if made_up:
        print(f"chittyos-edge: warning: {len(made_up)} id(s) from {ORIGINS[source]} are stand-ins, not real "
              "until the first `pulumi up` (listed in standIns, marked '# stand-in'); real outputs: "
              "--source backend or --source stdin", file=sys.stderr)


def _note_secrets(pairs: list[tuple[str, str]]) -> None:
    from .sources import is_redacted

    hidden = [name for name, value in pairs if is_redacted(value)]
    if hidden:
        print(f"chittyos-edge: note: {', '.join(hidden)} left out (commented): secret(s) the source did not reveal",
              file=sys.stderr)


def _emit(text: str, out: str | None) -> None:
    if out and out != "-":
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    else:
        sys.stdout.write(text)
