"""A synthetic production stack of any size: the real one, grown by identical "tenants".

    .venv/bin/python bench/synthetic_stack.py --resources 2000 --out /tmp/big [-C DIR]

Each tenant adds what a new product on the estate would: a Worker (a pinned build of its code,
subdomain setting, custom domain) bound to its own KV namespace, queue (with a consumer and a dead-letter queue) and
R2 bucket (with a lifecycle rule; its r2.dev URL off), a health check on its hostname and a WAF rule scoped to it;
every fifth tenant also a D1 database, every tenth a rate limit. Everything is valid and
gate-clean: names carry the environment, stores are protected and retained, the hostname is in
the zone and health-checked, the service-down alert covers the new checks, and the zone is on the
Enterprise plan, whose limits hold that many checks and rules. Tenants are numbered, so two runs
write the same stack.

`--out DIR` writes a project folder that `chittyos-edge -C DIR` plans and gates: the grown
Pulumi.production.yaml, the source project's other Pulumi*.yaml files, and links to its workers/,
migrations/, policies/ and docs/. The tenant count for `--resources N` is worked out by planning
the stack with no tenant and with five (what a tenant adds comes from the components, not from
here).

`synthetic_plan(plan, resources)` grows a plan *document* the same way without planning it: it
copies the tenant records of a small planned stack with fresh names and ids, which is how a
test drives the gate at thousands of resources in a few seconds.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

PREFIX = "chittyos-edge:"
STACK = "production"
TENANT = "bench-t{:04d}"  # every name a tenant adds starts with this
LINKED = ("workers", "migrations", "policies", "docs")
DB_EVERY = 5  # every fifth tenant also gets a D1 database
RATE_LIMIT_EVERY = 10  # and every tenth a rate limit
# Within an Enterprise zone's limits, with room for the rules the stack has: 1,000 WAF custom rules,
# 100 rate limiting rules, 1,000 standalone health checks.
MAX_WAF_RULES, MAX_RATE_LIMITS, MAX_TENANTS = 900, 90, 950
CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
HEALTH_CHECK = "cloudflare:index/healthcheck:Healthcheck"
NOTIFICATION = "cloudflare:index/notificationPolicy:NotificationPolicy"


def find_project(start: Path) -> Path:
    """The nearest folder at or above `start` that holds Pulumi.yaml."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    sys.exit(f"no Pulumi.yaml at or above {start}; run from the project or pass -C DIR")


def read_config(project: Path, stack: str = STACK) -> dict[str, Any]:
    """A stack file's `config:` mapping, read by the project's own (strict) loader."""
    from chittyos_edge.config.stack_file import load_stack_file

    return copy.deepcopy(load_stack_file(project / f"Pulumi.{stack}.yaml").config)


def _section(config: dict[str, Any], key: str, default: Any) -> Any:
    return config.setdefault(PREFIX + key, default)


def add_tenant(config: dict[str, Any], index: int) -> None:
    """Add tenant `index` (1-based) to a production stack's `config:` mapping, in place."""
    t = TENANT.format(index)
    zone = config[PREFIX + "zone"]["name"]
    host = f"{t}.{zone}"
    _section(config, "kvNamespaces", {})[f"{t}-cache"] = {"description": f"{t} response cache"}
    queues = _section(config, "queues", {})
    queues[f"{t}-jobs"] = {"description": f"{t} background jobs"}
    queues[f"{t}-jobs-dlq"] = {"description": f"{t} jobs that failed after all retries"}
    _section(config, "r2Buckets", {})[f"{t}-files"] = {
        "description": f"{t} uploads", "location": "enam",
        "lifecycle": [{"id": "expire-90d", "abortMultipartAfterDays": 7, "deleteAfterDays": 90}]}
    bindings: dict[str, Any] = {"kv": {"CACHE": f"{t}-cache"}, "r2": {"FILES": f"{t}-files"},
                                "queues": {"JOBS": f"{t}-jobs"}}
    if index % DB_EVERY == 0:
        _section(config, "d1Databases", {})[f"{t}-db"] = {"description": f"{t} records",
                                                           "primaryLocationHint": "enam"}
        bindings["d1"] = {"DB": f"{t}-db"}
    _section(config, "services", {})[t] = {
        "scriptName": t, "code": {"source": "build", "bundle": f"dist/{t}/worker.mjs", "sha256": "ab" * 32,
                                   "fetch": f"make fetch-{t}"},
        "compatibilityDate": "2024-08-29",
        "compatibilityFlags": ["nodejs_compat"],
        "vars": {"ENVIRONMENT": STACK, "TENANT": t},
        "bindings": bindings, "customDomains": [host], "cpuMs": 50000,
        "queueConsumers": [{"queue": f"{t}-jobs", "batchSize": 10, "maxRetries": 3,
                            "deadLetterQueue": f"{t}-jobs-dlq"}]}
    monitoring = _section(config, "monitoring", {})
    monitoring.setdefault("healthChecks", []).append({
        "name": f"{t}-health", "hostname": host, "path": "/health", "interval": 60, "timeout": 5,
        "retries": 2, "regions": ["WNAM", "ENAM"]})
    security = _section(config, "edgeSecurity", {})
    rules = security.setdefault("wafCustomRules", [])
    if len(rules) < MAX_WAF_RULES:
        rules.append({
            "ref": f"{t.replace('-', '_')}_writes", "description": f"Challenge anonymous writes to {t}",
            "services": [t], "action": "managed_challenge",
            "expression": '(http.request.method eq "POST" and not cf.client.bot)'})
    limits = security.setdefault("rateLimits", [])
    if index % RATE_LIMIT_EVERY == 0 and len(limits) < MAX_RATE_LIMITS:
        limits.append({
            "ref": f"{t.replace('-', '_')}_api", "description": f"{t} at 600 requests per minute per IP",
            "services": [t], "expression": '(starts_with(http.request.uri.path, "/api/"))',
            "requestsPerPeriod": 600, "period": 60, "mitigationTimeout": 60, "action": "block"})


def grow(config: dict[str, Any], tenants: int) -> dict[str, Any]:
    """A copy of a production `config:` mapping with `tenants` tenants added, on an Enterprise zone
    (the plan whose limits hold hundreds of health checks and rules)."""
    if tenants > MAX_TENANTS:
        raise ValueError(f"at most {MAX_TENANTS} tenants (about {MAX_TENANTS * 10} resources): an Enterprise zone "
                         "allows 1,000 standalone health checks")
    grown = copy.deepcopy(config)
    grown[PREFIX + "zone"]["plan"] = "enterprise"
    for index in range(1, tenants + 1):
        add_tenant(grown, index)
    return grown


def count_resources(plan: dict[str, Any]) -> int:
    """Resources as `chittyos-edge plan` counts them: custom resources, components excluded."""
    return sum(1 for r in plan["resources"] if r["custom"])


def tenants_for(resources: int, base: int, per_tenant: float) -> int:
    return max(0, math.ceil((resources - base) / per_tenant))


def calibrate(config: dict[str, Any], make_plan: Callable[..., dict[str, Any]]) -> tuple[int, float]:
    """(resources of the stack as it is, resources a tenant adds on average), by planning it with
    no tenant and with one cycle of DB_EVERY tenants."""
    base = count_resources(make_plan(STACK, file_config=config))
    return base, (count_resources(make_plan(STACK, file_config=grow(config, DB_EVERY))) - base) / DB_EVERY


def planner(source: Path) -> Callable[..., dict[str, Any]]:
    """`make_plan` of the project at `source` (its bundles and migrations), in this process."""
    from chittyos_edge.plan import make_plan
    from chittyos_edge.project import Project

    project = Project.at(source)
    return lambda stack, file_config=None: make_plan(stack, file_config=file_config, project=project)


def write_project(out: Path, config: dict[str, Any], source: Path) -> Path:
    """A project folder holding the grown stack file, beside the source project's other files."""
    out.mkdir(parents=True, exist_ok=True)
    # The project file and the other stacks as they are: checks of one stack read the others.
    for other in source.glob("Pulumi*.yaml"):
        if other.name != f"Pulumi.{STACK}.yaml":
            (out / other.name).write_text(other.read_text())
    text = yaml.dump({"config": config}, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False, width=200)
    header = "# Synthetic stack from bench/synthetic_stack.py: not deployed.\n"
    (out / f"Pulumi.{STACK}.yaml").write_text(header + text)
    for name in LINKED:
        link = out / name
        if not link.exists() and (source / name).exists():
            link.symlink_to((source / name).resolve(), target_is_directory=True)
    return out / f"Pulumi.{STACK}.yaml"


# ---- plans without planning ----------------------------------------------------------------

def synthetic_plan(plan: dict[str, Any], resources: int) -> dict[str, Any]:
    """Grow a planned stack holding tenant 1 (`grow(config, 1)`) to at least `resources` resources.

    Tenant 1's records are copied with its number replaced, then every id the mocks derive from a
    URN (and every place that id was wired into) is replaced by the copy's own, so each copy binds
    its own stores. In the zone's rulesets, a rule of tenant 1 is copied for each tenant and a rule
    of the whole zone lists every tenant's hostname; the service-down alert watches every check.
    """
    from chittyos_edge.gate.sources import plan_outputs

    first = TENANT.format(1)
    own = [r for r in plan["resources"] if first in r["urn"]]
    if not own:
        raise ValueError(f"the plan holds no {first} records: plan grow(config, 1) first")
    copies = tenants_for(resources, count_resources(plan), sum(1 for r in own if r["custom"]))
    tenants = [TENANT.format(index) for index in range(1, copies + 2)]
    template, ids = json.dumps(own), {r["urn"]: plan_outputs(r)["id"] for r in own if r["custom"]}
    result = copy.deepcopy(plan)
    for tenant in tenants[1:]:
        text = template.replace(first, tenant)
        copied = {r["urn"]: r for r in json.loads(text)}
        for urn, old in ids.items():
            text = text.replace(old, plan_outputs(copied[urn.replace(first, tenant)])["id"])
        result["resources"] += json.loads(text)
    host = next(r["inputs"]["hostname"] for r in own if r["type"] == CUSTOM_DOMAIN)
    for record in result["resources"]:
        if first in record["urn"] or first not in json.dumps(record["inputs"]):
            continue
        if not isinstance(record["inputs"].get("rules"), list):
            raise ValueError(f"synthetic_plan does not know how to grow {record['urn']}, which names {first}")
        record["inputs"]["rules"] = [grown for rule in record["inputs"]["rules"]
                                     for grown in _grown_rule(rule, first, host, tenants)]
    checks = [plan_outputs(r)["id"] for r in result["resources"] if r["type"] == HEALTH_CHECK]
    for alert in result["resources"]:
        if alert["type"] == NOTIFICATION and alert["inputs"].get("alertType") == "health_check_status_notification":
            alert["inputs"]["filters"]["healthCheckIds"] = checks
    return result


def _grown_rule(rule: dict[str, Any], first: str, host: str, tenants: list[str]) -> list[dict[str, Any]]:
    """A ruleset rule for every tenant: tenant 1's own rule copied per tenant, a zone-wide rule with
    every tenant's hostname where it lists tenant 1's."""
    text = json.dumps(rule)
    if first not in text:
        return [rule]
    if first in rule.get("ref", "").replace("_", "-"):
        snake = first.replace("-", "_")
        return [json.loads(text.replace(first, t).replace(snake, t.replace("-", "_"))) for t in tenants]
    hosts = " ".join(f'"{host.replace(first, t)}"' for t in tenants)
    return [dict(rule, expression=rule["expression"].replace(f'"{host}"', hosts))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, required=True, help="grow the production stack to about N resources")
    parser.add_argument("--out", type=Path, required=True, help="project folder to write")
    parser.add_argument("-C", "--cwd", type=Path, default=None, metavar="DIR",
                        help="project whose production stack is grown (default: the one you stand in)")
    args = parser.parse_args(argv)
    source = args.cwd.resolve() if args.cwd else find_project(Path.cwd())
    base, per_tenant = calibrate(read_config(source), planner(source))
    tenants = tenants_for(args.resources, base, per_tenant)
    path = write_project(args.out, grow(read_config(source), tenants), source)
    print(f"{path}: {tenants} tenants of about {per_tenant:g} resources on {base}: "
          f"about {base + round(tenants * per_tenant)} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
