"""`chittyos-edge rollout`, `rollback` and `flag`: staged rollout and rollback as changes to the stack file.

Each command edits `Pulumi.<stack>.yaml` (only the lines of the key it changes; see
`config.stack_edit`) and prints the `pulumi up` that applies it. Nothing talks to Cloudflare: the
stack file stays the one description of what runs, so Pulumi's state and the account never
disagree (a change made with wrangler or in the dashboard is undone by the next `up` that touches
that Worker, and the nightly drift check reports it meanwhile).

- `rollout`: the canary (`services.<key>.canary`) to the next rollout step of the ChittyConnect
  implementation guide (10 -> 25 -> 50 -> 100 %) or to `--percent N`; at 100 % the canary is
  promoted: its code becomes the stable `code` and the `canary` block goes.
- `rollback`: the `canary` block goes: 100 % back to the stable version, the last one that served
  all the traffic.
- `flag`: a feature flag of the guide (`services.<key>.vars.ENABLE_*`) to true or false.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from . import PROJECT
from .config import parse_stack_config
from .config.errors import closest_key
from .config.services import FLAG_RE, FLAG_VALUES, ROLLOUT_STEPS, CodeSource, WorkerService
from .config.stack_edit import StackFileText
from .errors import EXIT_OK, UsageError
from .usage import HELP_FORMATTER, add_stack, epilog, one_stack

PREFIX = f"{PROJECT}:"
SERVICES = f"{PREFIX}services"


def register(commands) -> None:
    """Add `rollout`, `rollback` and `flag` to the CLI's subcommands."""
    exits = ["0  the stack file was changed (or already said so)", "2  usage or config error: nothing was written"]
    rollout = commands.add_parser(
        "rollout", help="move a service's canary one rollout step (10, 25, 50, 100 %%) or to --percent N",
        formatter_class=HELP_FORMATTER,
        description="Move services.<service>.canary.percent in Pulumi.<stack>.yaml to the next rollout step of the\n"
                    "ChittyConnect implementation guide (10 -> 25 -> 50 -> 100 %), or to --percent N. At 100 % the\n"
                    "canary is promoted: its code becomes the service's stable `code` and the canary block is\n"
                    "removed. Only the changed lines of the file are rewritten; then run the `pulumi up` printed.",
        epilog=epilog(
            ["chittyos-edge rollout --stack staging --service project-awareness               # 10 -> 25",
             "chittyos-edge rollout --stack production --service project-awareness --percent 50",
             "chittyos-edge rollout --stack production --service project-awareness --percent 100   # promote"],
            exits))
    _common(rollout, "the service whose canary moves")
    rollout.add_argument("--percent", type=int, metavar="N",
                         help="the canary's share of traffic, 0-100 (100 promotes it; default: the next step)")
    rollout.set_defaults(handler=_rollout_command)

    rollback = commands.add_parser(
        "rollback", help="send 100 %% of a service's traffic back to its stable version (remove the canary)",
        formatter_class=HELP_FORMATTER,
        description="Remove services.<service>.canary from Pulumi.<stack>.yaml, so the deployment sends 100 % of the\n"
                    "traffic to the stable version (`code`), the last build that served all of it. Then run the\n"
                    "`pulumi up` printed. With --all, every service's canary goes (what the deploy workflow does\n"
                    "after a failed smoke test).",
        epilog=epilog(
            ["chittyos-edge rollback --stack production --service project-awareness",
             "chittyos-edge rollback --stack production --all"], exits))
    add_stack(rollback, repeatable=False, what="the stack whose file changes")
    target = rollback.add_mutually_exclusive_group(required=True)
    target.add_argument("--service", metavar="KEY", help="the service whose canary goes (services.<KEY>)")
    target.add_argument("--all", action="store_true", help="every service that has a canary (none: nothing to do)")
    rollback.set_defaults(handler=_rollback_command)

    flag = commands.add_parser(
        "flag", help="set a feature flag (services.<service>.vars.ENABLE_*) to true or false",
        formatter_class=HELP_FORMATTER,
        description="Set feature flags of the ChittyConnect implementation guide (ENABLE_DURABLE_OBJECTS,\n"
                    "ENABLE_R2_STORAGE, ...) in Pulumi.<stack>.yaml: the flag is a var of the service, so the\n"
                    "next `pulumi up` keeps it (a `wrangler secret put` would clash with the var and be undone).\n"
                    "Then run what is printed: `pulumi up`, and for a service whose code is live, its own deploy.",
        epilog=epilog(
            ["chittyos-edge flag --stack production --service chittyconnect ENABLE_R2_STORAGE=false",
             "chittyos-edge flag --stack production --service chittyconnect ENABLE_DURABLE_OBJECTS=true "
             "ENABLE_R2_STORAGE=true"], exits))
    _common(flag, "the service whose flags change")
    flag.add_argument("assignments", nargs="+", metavar="ENABLE_NAME=true|false", help="flags to set")
    flag.set_defaults(handler=_flag_command)


def _common(parser: argparse.ArgumentParser, what: str) -> None:
    add_stack(parser, repeatable=False, what="the stack whose file changes")
    parser.add_argument("--service", required=True, metavar="KEY", help=f"{what} (services.<KEY>)")


# ---- the commands --------------------------------------------------------------------------

def _rollout_command(args: argparse.Namespace) -> int:
    stack, file = _open(args)
    key, service = _service(stack, file, args.service)
    _uploaded(key, service, "has no staged rollout")
    if service.canary is None:
        raise UsageError(f"services.{key}.canary: {key} has no canary to move; pin the new build under "
                         f"services.{key}.canary.code with percent: {ROLLOUT_STEPS[0]} "
                         "(README, \"Staged rollout and rollback\")")
    current = service.canary.percent
    if args.percent is None:
        target = next(step for step in ROLLOUT_STEPS if step > current)
    elif 0 <= args.percent <= 100:
        target = args.percent
    else:
        raise UsageError(f"--percent {args.percent}: give 0-100 (services.{key}.canary.percent; 100 promotes the "
                         "canary)")
    canary_path = f"{SERVICES}.{key}.canary"
    expected = copy.deepcopy(file.config)
    entry = expected[SERVICES][key]
    if target == 100:
        entry["code"] = entry.pop("canary")["code"]
        file.replace_value(f"{SERVICES}.{key}.code", f"{canary_path}.code")
        file.remove(canary_path, comments_above=True)
        change = f"services.{key}: canary promoted: its build is now code, the stable version, at 100 %"
    elif target == current:
        print(f"{file.path.name}: services.{key}.canary.percent is already {current}; nothing changed")
        return EXIT_OK
    else:
        entry["canary"]["percent"] = target
        file.set_scalar(f"{canary_path}.percent", target)
        change = (f"services.{key}.canary.percent: {current} -> {target} (stable {100 - target} %, "
                  f"canary {target} %)")
    _write(stack, file, expected)
    _done(stack, file, [change])
    return EXIT_OK


def _rollback_command(args: argparse.Namespace) -> int:
    stack, file = _open(args)
    if args.all:
        settings = _settings(stack, file.config)
        keys = [key for key, service in settings.services.items() if service.canary is not None]
        if not keys:
            print(f"{file.path.name}: no service has a canary; every one serves its stable version (nothing changed)")
            return EXIT_OK
    else:
        key, service = _service(stack, file, args.service)
        _uploaded(key, service, "has nothing to roll back here; roll it back with the application's own deploy")
        if service.canary is None:
            raise UsageError(f"services.{key}.canary: {key} has no canary; its stable version (code) already serves "
                             "100 %; to return to an earlier build, revert the commit that pinned it and `pulumi up`")
        keys = [key]
    expected = copy.deepcopy(file.config)
    for key in keys:
        del expected[SERVICES][key]["canary"]
        file.remove(f"{SERVICES}.{key}.canary", comments_above=True)
    _write(stack, file, expected)
    _done(stack, file, [f"services.{key}.canary removed: the stable version (code) serves 100 %" for key in keys])
    return EXIT_OK


def _flag_command(args: argparse.Namespace) -> int:
    stack, file = _open(args)
    key, service = _service(stack, file, args.service)
    wanted: dict[str, str] = {}
    for assignment in args.assignments:
        name, equals, value = assignment.partition("=")
        if not equals or value not in FLAG_VALUES:
            raise UsageError(f"{assignment}: write NAME=true or NAME=false")
        if not FLAG_RE.match(name):
            raise UsageError(f"{name}: not a feature flag (ENABLE_*); set other vars in services.{key}.vars by hand")
        if name not in service.vars:
            flags = sorted(service.flags())
            guess = closest_key(name, flags)
            hint = f"did you mean {guess}?" if guess else f"its flags: {', '.join(flags) or 'none'}"
            raise UsageError(f"services.{key}.vars.{name}: {key} has no such flag; {hint} (a new flag is added to "
                             "vars by hand, with the application that reads it)")
        wanted[name] = value
    expected = copy.deepcopy(file.config)
    changes = []
    for name, value in wanted.items():
        if service.vars[name] == value:
            continue
        expected[SERVICES][key]["vars"][name] = value
        file.set_scalar(f"{SERVICES}.{key}.vars.{name}", value)
        changes.append(f"services.{key}.vars.{name}: {service.vars[name]} -> {value}")
    if not changes:
        print(f"{file.path.name}: services.{key}.vars already says so; nothing changed")
        return EXIT_OK
    _write(stack, file, expected)
    _done(stack, file, changes, live=key if service.is_live else None)
    return EXIT_OK


# ---- shared ----------------------------------------------------------------------------------

def _open(args: argparse.Namespace) -> tuple[str, StackFileText]:
    stack = one_stack(args, args.project)
    return stack, StackFileText.read(args.project.stack_file(stack))


def _settings(stack: str, config: dict[str, Any]):
    own = {k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)}
    return parse_stack_config(own, f"Pulumi.{stack}.yaml", stack)


def _service(stack: str, file: StackFileText, key: str) -> tuple[str, WorkerService]:
    services = _settings(stack, file.config).services
    if key not in services:
        guess = closest_key(key, list(services))
        hint = f"did you mean {guess}?" if guess else f"services: {', '.join(services) or 'none'}"
        raise UsageError(f"--service {key}: {file.path.name} has no services.{key}; {hint}")
    return key, services[key]


def _uploaded(key: str, service: WorkerService, what: str) -> None:
    if service.code.source is CodeSource.LIVE:
        raise UsageError(f"services.{key}.code.source: live: this program uploads none of {key}'s code, so it {what}; "
                         "pin a build (code.source: build) to roll out with this program")


def _write(stack: str, file: StackFileText, expected: dict[str, Any]) -> None:
    file.write_checked(expected, lambda config: _settings(stack, config))


def _done(stack: str, file: StackFileText, changes: list[str], live: str | None = None) -> None:
    """Say what changed and print the next commands (`live`: a service whose vars ship with its own deploy)."""
    for change in changes:
        print(f"{file.path.name}: {change}")
    print("next: review and commit the change (the deploy workflow applies main), or apply it now:")
    print(f"  pulumi up --stack {stack} --diff --policy-pack policies "
          f"--policy-pack-config policies/config/{stack}.json")
    if live:
        print(f"then, as {live}'s code is live (deployed from its own repository, which carries its vars), put the "
              "new vars in its wrangler configuration and deploy it:")
        print(f"  chittyos-edge outputs --stack {stack} --format wrangler --service {live}")


__all__ = ["register"]
