"""`chittyos-edge dev`: run one service of a stack on workerd (wrangler dev, loopback) with exactly the
stack's bindings: local KV, R2, D1 (this repo's migrations applied), Durable Objects and queues."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ..errors import EXIT_OK, UsageError
from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack
from . import wrangler
from .stack import StackView, default_state_dir, load, worker_config
from .wrangler import local_persistence

PLACEHOLDER = "local-dev-placeholder"


def register(commands) -> None:
    parser = commands.add_parser(
        "dev", help="run one service locally on workerd with the stack's bindings (wrangler dev --local)",
        description="Build the service's wrangler config from the stack (the outputs' bindings, its bundle, Durable "
                    "Object migrations and crons), apply this repo's D1 migrations to the local databases, then run "
                    "`wrangler dev --local` on loopback. Every store is local (under --state-dir, shared by the "
                    "stack's services and by `backup --local`); no Cloudflare account is touched. Workers AI has no "
                    "local runtime: its binding is absent. Secrets come from environment variables of the same name, "
                    f"else the value {PLACEHOLDER!r}.",
        formatter_class=HELP_FORMATTER,
        epilog=epilog(
            ["chittyos-edge dev -s staging --service project-awareness          # http://127.0.0.1:8787",
             "chittyos-edge dev -s staging --service chittyconnect --bundle workers/chittyconnect/worker.mjs --port 8788",
             "chittyos-edge dev -s production --service chittyconnect --print-config"],
            ["0  wrangler stopped cleanly (any other status is wrangler's own)",
             "2  usage or config error, or a failed D1 migration"]))
    add_stack(parser, repeatable=False, what="the stack whose service to run")
    parser.add_argument("--service", required=True, metavar="KEY", help="the service's key in the stack config")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback)")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on (default: 8787)")
    parser.add_argument("--inspector-port", type=int, default=0,
                        help="devtools port (default: a free one; wrangler's 9229 is often taken)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="folder of the local stores (default: .chittyos-edge/local/<stack> in the project)")
    parser.add_argument("--bundle", metavar="PATH",
                        help="run this ES-module bundle instead of the service's own (required when the service "
                             "runs live code, which is not in this project), e.g. workers/<service>/worker.mjs")
    parser.add_argument("--print-config", action="store_true",
                        help="print the generated wrangler config (JSON) and exit")
    parser.set_defaults(handler=_dev_command)


def _dev_command(args: argparse.Namespace) -> int:
    for flag, port in (("--port", args.port), ("--inspector-port", args.inspector_port or 1)):
        if not 0 < port < 65536:
            raise UsageError(f"{flag} {port}: use a port between 1 and 65535")
    view = load(one_stack(args, args.project), args.project)
    if args.print_config:
        sys.stdout.write(json.dumps(worker_config(view, args.service, args.bundle), indent=2) + "\n")
        return EXIT_OK
    state = Path(args.state_dir).resolve() if args.state_dir else default_state_dir(view)
    command, workdir = prepare(view, args.service, state, ip=args.ip, port=args.port,
                               inspector_port=args.inspector_port, bundle=args.bundle)
    print(f"chittyos-edge: {args.service} of {view.stack} on http://{args.ip}:{args.port} "
          f"(stores in {state})", file=sys.stderr, flush=True)
    process = subprocess.Popen(command, cwd=workdir, env=wrangler.environment(non_interactive=False),
                               stdin=subprocess.DEVNULL)
    # A SIGTERM to this process (a CI runner, a test) stops wrangler and workerd with it.
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C reached wrangler too (same process group): let it stop
        return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare(view: StackView, service: str, state: Path, *, ip: str = "127.0.0.1", port: int = 8787,
            inspector_port: int = 0, bundle: str | None = None) -> tuple[list[str], Path]:
    """Write the service's wrangler config and .dev.vars under `state`, apply the D1 migrations to the
    local databases; the `wrangler dev` command line to run (in the returned folder)."""
    table = worker_config(view, service, bundle)
    workdir = state / service
    config = wrangler.write_config(workdir / "wrangler.json", table)
    # wrangler dev reads secrets from .dev.vars beside its config.
    secrets = view.settings.services[service].secrets
    (workdir / ".dev.vars").write_text("".join(f"{name}={json.dumps(os.environ.get(name, PLACEHOLDER))}\n"
                                               for name in secrets))
    persist = local_persistence(state)
    apply_d1_migrations(view, table, config, persist)
    command = [str(wrangler.executable(view.project)), "dev", "--local", "--config", str(config),
               "--ip", ip, "--port", str(port), "--persist-to", str(persist),
               "--inspector-ip", ip, "--inspector-port", str(inspector_port or free_port(ip))]
    return command, workdir


def free_port(ip: str) -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def apply_d1_migrations(view: StackView, table: dict, config, persist) -> None:
    """Apply the repo's migrations to each local database the service binds (wrangler's own
    `d1_migrations` table, as `pulumi up` does remotely)."""
    for database in table.get("d1_databases", []):
        if "migrations_dir" not in database:
            continue
        out = wrangler.run(view.project, ["d1", "migrations", "apply", database["database_name"], "--local",
                                          "--persist-to", str(persist)],
                           config=config, what=f"applying the D1 migrations of {database['database_name']}")
        applied = "no migrations to apply" if "No migrations to apply" in out else "migrations applied"
        print(f"chittyos-edge: D1 {database['database_name']} (local): {applied}", file=sys.stderr, flush=True)
