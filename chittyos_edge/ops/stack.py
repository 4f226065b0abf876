"""What the operations commands know of a stack: its typed config and its outputs, and the wrangler
configuration built from them (the bindings of the outputs contract, rendered by `outputs.render`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import PROJECT
from ..config import StackConfig, parse_stack_config
from ..errors import UsageError
from ..outputs_contract import ServiceOutputs, StackOutputs
from ..project import Project


@dataclass(frozen=True)
class StackView:
    stack: str
    project: Path            # the project root: bundles and migrations resolve under it
    settings: StackConfig
    outputs: StackOutputs
    source: str              # where the outputs (and so the ids) came from

    def service(self, key: str) -> tuple[Any, ServiceOutputs]:
        """The typed config and the outputs of one service; UsageError lists the services there are."""
        if key not in self.settings.services or key not in self.outputs.services:
            raise UsageError(f"--service {key!r} is not a service of the {self.stack} stack; choose one of: "
                             f"{', '.join(sorted(self.settings.services)) or 'none'}")
        return self.settings.services[key], self.outputs.services[key]


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the ids come from: the offline plan (local runs) or the deployed stack (remote runs)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--backend", metavar="URL",
                        help="read the deployed stack's outputs (the real ids) from its checkpoint in the state "
                             "bucket, s3://<bucket>?endpoint=<url>&region=auto (AWS_* credentials)")
    source.add_argument("--stdin", action="store_true",
                        help="read the deployed stack's outputs from `pulumi stack output --json --stack S` on stdin")


def settings_of(stack: str, project: Project) -> StackConfig:
    """The stack file's typed config (ConfigError, exit 2, on bad input)."""
    from ..plan.runtime import read_stack_file

    prefix = f"{PROJECT}:"
    raw = {k[len(prefix):]: v for k, v in read_stack_file(stack, project).items() if k.startswith(prefix)}
    return parse_stack_config(raw, project.stack_file(stack).name, stack)


def load(stack: str, project: Project, args: argparse.Namespace | None = None) -> StackView:
    """The stack's typed config, and its outputs from --backend, --stdin or (default) the offline plan."""
    from ..outputs import sources
    from ..outputs.errors import OutputsError

    settings = settings_of(stack, project)
    try:
        if args is not None and getattr(args, "backend", None):
            outputs, source = sources.from_backend(args.backend, stack=stack), "the state backend"
        elif args is not None and getattr(args, "stdin", False):
            import sys

            outputs, source = sources.from_json_text(sys.stdin.read(), stack=stack), "`pulumi stack output`"
        else:
            outputs, source = sources.from_plan(stack, project), "the offline plan"
    except OutputsError as error:
        raise UsageError(str(error)) from None
    return StackView(stack, project.root, settings, outputs, source)


def migration_steps(host) -> list[dict[str, Any]]:
    """A Durable Object host's migration history in wrangler's `migrations` keys: the provider's step
    (what `pulumi up` uploads) with its tag, and `from` where the Python SDK says `from_`."""
    from components.durable_objects import step_input

    steps = []
    for step in host.migrations:
        entry: dict[str, Any] = {"tag": step.tag, **step_input(step)}
        if "renamed_classes" in entry:
            entry["renamed_classes"] = [{"from": r["from_"], "to": r["to"]} for r in entry["renamed_classes"]]
        steps.append(entry)
    return steps


def bundle_to_run(view: StackView, key: str, bundle: str | None = None) -> Path:
    """The bundle a local run executes: `bundle` when given, else the service's build or reference
    bundle. A service running live code has none in this repo: the caller must name one."""
    config, _ = view.service(key)
    chosen = bundle or config.code.bundle
    if chosen is None:
        raise UsageError(f"services.{key}.code.source is {config.code.source.value}: its code runs in the account "
                         f"and is not in this project; pass --bundle PATH (the application's build, or "
                         f"workers/{key}/worker.mjs, the reference bundle)")
    path = (view.project / chosen) if not Path(chosen).is_absolute() else Path(chosen)
    if not path.is_file():
        raise UsageError(f"--bundle {chosen}: no such file under {view.project}"
                         + (f" (services.{key}.code.fetch puts it there: {config.code.fetch})"
                            if not bundle and config.code.fetch else ""))
    return path


def worker_config(view: StackView, key: str, bundle: str | None = None) -> dict[str, Any]:
    """A complete wrangler config of one service: the outputs' bindings plus what wrangler needs to run it
    (the bundle, the Durable Object migrations, the crons, each D1 database's migrations folder)."""
    from ..outputs.render import wrangler_env

    config, outputs = view.service(key)
    table = wrangler_env(outputs)
    table["main"] = str(bundle_to_run(view, key, bundle))
    host = next((h for h in view.settings.durable_objects.values() if h.host_service == key), None)
    if host is not None:
        table["migrations"] = migration_steps(host)
    crons = list(config.crons) + ([host.cleanup_schedule] if host is not None and host.cleanup_schedule else [])
    if crons:
        table["triggers"] = {"crons": crons}
    for database in table.get("d1_databases", []):
        migrations = view.settings.d1_databases[config.bindings.d1[database["binding"]]].migrations
        if migrations is not None:
            database["migrations_dir"] = str(view.project / migrations.directory)
    return table


def default_state_dir(view: StackView) -> Path:
    """Where local runs keep the stack's data (shared by every service, as in the account): gitignored."""
    return view.project / ".chittyos-edge" / "local" / view.stack
