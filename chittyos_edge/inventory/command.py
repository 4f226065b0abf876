"""`chittyos-edge inventory --stack S`: refresh `inventory/<S>.yaml` from the real account (read-only)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import EXIT_OK, UsageError
from ..project import Project
from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack

TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"
READ_PERMISSIONS = ("Account: Workers Scripts Read, Workers KV Storage Read, D1 Read, Queues Read, "
                    "Workers R2 Storage Read, Cloudflare Tunnel Read; Zone: Zone Read, DNS Read, Workers Routes Read")


def default_client(token: str) -> Any:
    """Cloudflare's official SDK client (imported here: it is large and only this command needs it)."""
    from cloudflare import Cloudflare

    return Cloudflare(api_token=token, max_retries=2)


# Tests replace this to answer from recorded API responses instead of the network.
CLIENT_FACTORY: Callable[[str], Any] = default_client


def stack_settings(stack: str, project: Project):
    """A stack file's typed config (the plan's reader), for its account, zone and adoptions."""
    from .. import PROJECT
    from ..config import parse_stack_config
    from ..plan.runtime import read_stack_file

    prefix = f"{PROJECT}:"
    raw = {k[len(prefix):]: v for k, v in read_stack_file(stack, project).items() if k.startswith(prefix)}
    return parse_stack_config(raw, f"Pulumi.{stack}.yaml", stack)


def refresh(stack: str, project: Project, out: Path | None = None, client: Any = None) -> tuple[Path, list[str]]:
    """Read the account, write the stack's inventory; returns (file written, change lines)."""
    from ..adoption import adopted
    from .model import dump, load, path_for
    from .refresh import Claims, RefreshError, build_inventory, changes, read_account

    root = project.root
    settings = stack_settings(stack, project)
    # The environments are staging and production (a stack file declares its own): the other one's
    # adoptions are never this stack's.
    other = "staging" if settings.environment.value == "production" else "production"
    theirs = Claims.of(adopted(stack_settings(other, project))) if project.stack_file(other).is_file() else Claims()
    own = Claims.of(adopted(settings))
    if client is None:
        token = os.environ.get(TOKEN_VARIABLE)
        if not token:
            raise UsageError(f"inventory reads the account: export {TOKEN_VARIABLE} with a read-only API token "
                             f"({READ_PERMISSIONS})")
        client = CLIENT_FACTORY(token)
    try:
        snapshot = read_account(client, settings.account.id, settings.zone.name)
    except RefreshError as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # the SDK's APIError family: one line, not a traceback
        if type(error).__module__.startswith("cloudflare"):
            raise UsageError(f"Cloudflare API: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                             "; check the token's read permissions" ) from None
        raise
    inventory = build_inventory(snapshot, stack=stack, account_id=settings.account.id, zone=settings.zone.name,
                                own=own, theirs=theirs)
    target = out or path_for(stack, root)
    before = load(stack, root) if target == path_for(stack, root) else None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump(inventory))
    return target, changes(before, inventory)


def _inventory_command(args: argparse.Namespace) -> int:
    if args.schema:
        import json

        from .model import json_schema

        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
        return EXIT_OK
    stack = one_stack(args, args.project)
    target, lines = refresh(stack, args.project, Path(args.out) if args.out else None)
    print(f"inventory of {stack} written to {target}")
    for line in lines or ["  no change"]:
        print(line)
    sys.stdout.flush()
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "inventory", help="refresh inventory/<stack>.yaml (what already runs) from the account, read-only",
        formatter_class=HELP_FORMATTER,
        description="Read what runs in the Cloudflare account (Workers with their custom domains, routes, "
                    "workers.dev state and queue consumers; KV, D1, queues, R2 buckets, tunnels, DNS records) and "
                    f"write this stack's share to inventory/<stack>.yaml. Needs {TOKEN_VARIABLE}: a read-only token\n"
                    f"({READ_PERMISSIONS}). Only GET requests are made.",
        epilog=epilog(["chittyos-edge inventory -s production     # with CLOUDFLARE_API_TOKEN set (read-only)",
                       "chittyos-edge inventory -s staging --out plans/inventory-staging.yaml   # compare first",
                       "chittyos-edge inventory --schema > schemas/inventory.schema.json"],
                      ["0  written", "2  usage error: no token, the API refused, unknown stack"]))
    add_stack(parser, repeatable=False, what="the stack whose inventory to refresh")
    parser.add_argument("--out", metavar="FILE", help="write here instead of inventory/<stack>.yaml")
    parser.add_argument("--schema", action="store_true",
                        help="print the inventory file's JSON Schema (schemas/inventory.schema.json) and exit")
    parser.set_defaults(handler=_inventory_command)
