"""Render validated stack outputs for a consumer: JSON, a wrangler `[env.<stack>]` section, or env lines.

Secrets: JSON keeps them as the source gave them (a placeholder such as `[secret]`, as `pulumi stack
output --json` prints them, unless the source revealed them); env lines never export a placeholder
as a value (the variable is left out, with a comment saying why).
Stand-ins (ids the offline plan made up, listed in `standIns`): JSON lists them, wrangler and env
mark each one with a comment (the command refuses those two formats unless asked).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import tomli_w

from ..outputs_contract import ServiceOutputs, StackOutputs
from .errors import OutputsError
from .sources import is_redacted

STAND_IN = "stand-in: made up by the offline plan, not real until the first `pulumi up`"


def select_services(outputs: StackOutputs, service: str | None) -> dict[str, ServiceOutputs]:
    if service is None:
        return dict(outputs.services)
    if service not in outputs.services:
        raise OutputsError(f"--service {service!r} is not a service of the {outputs.environment.value} stack; "
                           f"choose one of: {', '.join(sorted(outputs.services)) or 'none'}")
    return {service: outputs.services[service]}


def _in_selection(path: str, services: dict[str, ServiceOutputs], stack_wide: bool = True) -> bool:
    parts = path.split(".")
    return (len(parts) > 1 and parts[1] in services) if parts[0] == "services" else stack_wide


def stand_ins(outputs: StackOutputs, service: str | None = None, *, stack_wide: bool = True) -> dict[str, str]:
    """Stand-in value -> its path, for the selected service(s) and (with `stack_wide`) the outputs
    outside `services` (the tunnel's)."""
    if not outputs.stand_ins:
        return {}
    chosen = select_services(outputs, service)
    document = outputs.model_dump(mode="json", by_alias=True)
    found: dict[str, str] = {}
    for path in outputs.stand_ins:
        if not _in_selection(path, chosen, stack_wide):
            continue
        node: Any = document
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            found[node] = path
    return found


def render_json(outputs: StackOutputs, service: str | None = None) -> str:
    document = outputs.model_dump(mode="json", by_alias=True)
    chosen = select_services(outputs, service)
    document["services"] = {key: value.model_dump(mode="json", by_alias=True) for key, value in chosen.items()}
    if outputs.stand_ins is None:
        del document["standIns"]
    else:
        document["standIns"] = [path for path in outputs.stand_ins if _in_selection(path, chosen)]
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


# ---- wrangler ------------------------------------------------------------------------------------

def wrangler_env(service: ServiceOutputs) -> dict[str, Any]:
    """One Worker's `[env.<stack>]` table, wrangler's key names (wrangler 3/4 configuration)."""
    env: dict[str, Any] = {
        "name": service.script_name,
        "compatibility_date": service.compatibility_date,
    }
    if service.compatibility_flags:
        env["compatibility_flags"] = list(service.compatibility_flags)
    if service.vars:
        env["vars"] = dict(service.vars)
    if service.kv_namespaces:
        env["kv_namespaces"] = [{"binding": b, "id": i} for b, i in service.kv_namespaces.items()]
    if service.r2_buckets:
        env["r2_buckets"] = [{"binding": b, "bucket_name": n} for b, n in service.r2_buckets.items()]
    if service.d1_databases:
        env["d1_databases"] = [{"binding": b, "database_name": d.name, "database_id": d.id}
                               for b, d in service.d1_databases.items()]
    if service.durable_objects:
        bindings = []
        for binding, ref in service.durable_objects.items():
            entry = {"name": binding, "class_name": ref.class_name}
            if ref.script_name != service.script_name:  # a class of another Worker
                entry["script_name"] = ref.script_name
            bindings.append(entry)
        env["durable_objects"] = {"bindings": bindings}
    queues: dict[str, Any] = {}
    if service.queues:
        queues["producers"] = [{"binding": b, "queue": q} for b, q in service.queues.items()]
    if service.queue_consumers:
        consumers = []
        for c in service.queue_consumers:
            entry: dict[str, Any] = {"queue": c.queue, "max_batch_size": c.max_batch_size,
                                     "max_batch_timeout": _seconds(c.max_wait_time_ms),
                                     "max_retries": c.max_retries, "retry_delay": c.retry_delay}
            if c.dead_letter_queue:
                entry["dead_letter_queue"] = c.dead_letter_queue
            consumers.append(entry)
        queues["consumers"] = consumers
    if queues:
        env["queues"] = queues
    if service.analytics_engine_datasets:
        env["analytics_engine_datasets"] = [{"binding": b, "dataset": d}
                                            for b, d in service.analytics_engine_datasets.items()]
    if service.ai:
        env["ai"] = {"binding": service.ai}
    return env


def _seconds(milliseconds: int) -> int | float:
    seconds = milliseconds / 1000
    return int(seconds) if seconds.is_integer() else seconds


def render_wrangler(outputs: StackOutputs, service: str | None, *, source: str) -> str:
    """The `[env.<stack>]` section of ONE Worker, to paste or include in that Worker repo's wrangler.toml."""
    services = outputs.services
    if service is None:
        if len(services) != 1:
            raise OutputsError(
                f"--format wrangler renders one Worker's wrangler.toml section; pick it with --service "
                f"({', '.join(sorted(services)) or 'no services'}), or use --out-dir DIR for one file per service")
        service = next(iter(services))
    chosen = select_services(outputs, service)[service]
    stack = outputs.environment.value
    header = (f"# [env.{stack}] of the {service} Worker ({chosen.script_name}), generated by\n"
              f"# `chittyos-edge outputs --stack {stack} --format wrangler --service {service}` from {source}\n"
              f"# (stack-output contract {outputs.contract_version}). Regenerate it; do not edit by hand.\n")
    made_up = stand_ins(outputs, service, stack_wide=False)
    body = tomli_w.dumps({"env": {stack: wrangler_env(chosen)}})
    if not made_up:
        return header + body
    header += "# Lines marked '# stand-in' hold ids the offline plan made up: not real until the first `pulumi up`.\n"
    lines = [f"{line}  # {STAND_IN}" if any(f'"{value}"' in line for value in made_up) else line
             for line in body.splitlines()]
    return header + "\n".join(lines) + "\n"


# ---- env lines -----------------------------------------------------------------------------------

def _env_key(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_").upper() for part in parts)


def env_pairs(outputs: StackOutputs, service: str | None = None) -> list[tuple[str, str]]:
    """`KEY`, value pairs, e.g. CHITTYCONNECT_KV_IDEMP_KV_ID; refuses two outputs on one key."""
    pairs: list[tuple[str, str]] = [
        ("CHITTYOS_EDGE_CONTRACT_VERSION", outputs.contract_version),
        ("CHITTYOS_EDGE_ENVIRONMENT", outputs.environment.value),
    ]
    for key, s in select_services(outputs, service).items():
        pairs.append((_env_key(key, "SCRIPT_NAME"), s.script_name))
        pairs.append((_env_key(key, "HOSTNAMES"), ",".join(s.hostnames)))
        pairs += [(_env_key(key, "VAR", name), value) for name, value in s.vars.items()]
        pairs += [(_env_key(key, "KV", b, "ID"), i) for b, i in s.kv_namespaces.items()]
        pairs += [(_env_key(key, "R2", b, "BUCKET"), n) for b, n in s.r2_buckets.items()]
        for b, d in s.d1_databases.items():
            pairs += [(_env_key(key, "D1", b, "ID"), d.id), (_env_key(key, "D1", b, "NAME"), d.name)]
        pairs += [(_env_key(key, "QUEUE", b, "NAME"), q) for b, q in s.queues.items()]
        for b, ref in s.durable_objects.items():
            pairs += [(_env_key(key, "DO", b, "CLASS"), ref.class_name),
                      (_env_key(key, "DO", b, "SCRIPT"), ref.script_name)]
        pairs += [(_env_key(key, "AE", b, "DATASET"), d) for b, d in s.analytics_engine_datasets.items()]
        if s.ai:
            pairs.append((_env_key(key, "AI_BINDING"), s.ai))
    if outputs.tunnel:
        pairs += [("TUNNEL_HOSTNAME", outputs.tunnel.hostname), ("TUNNEL_ACCESS_AUD", outputs.tunnel.access_aud)]
    if outputs.tunnel_token is not None:
        pairs.append(("TUNNEL_TOKEN", outputs.tunnel_token))
    seen: dict[str, int] = {}
    for index, (name, _) in enumerate(pairs):
        if name in seen:
            raise OutputsError(f"two outputs map to the environment variable {name}; rename a service key or "
                               "binding so their upper-cased names differ")
        seen[name] = index
    return pairs


def render_env(outputs: StackOutputs, service: str | None = None) -> str:
    """`KEY=value` lines that both `source` (sh) and dotenv readers accept. A secret the source did not
    reveal is left out (a comment says so); a stand-in id is preceded by a comment marking it."""
    made_up = stand_ins(outputs, service)
    lines = []
    for name, value in env_pairs(outputs, service):
        if is_redacted(value):
            lines.append(f"# {name} left out: a secret the source did not reveal (read it with "
                         "`pulumi stack output --json --show-secrets | chittyos-edge outputs --source stdin`)\n")
            continue
        if value in made_up:
            lines.append(f"# {name}: {STAND_IN}\n")
        lines.append(f"{name}={shlex.quote(value)}\n")
    return "".join(lines)
