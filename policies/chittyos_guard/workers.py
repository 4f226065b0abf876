"""Workers as the optimization report configures them: Node.js compatibility, CPU limits, no
workers.dev in production, observability on, the custom domains and route it names, every
Durable Object class deployed, every Analytics Engine dataset bound. Both Worker families
(`WorkersScript`, or `Worker` + `WorkerVersion`) are read through `_workers.scripts`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._rule import (
    ANY_CLAUSE, WORKER_VERSION, WORKERS_CUSTOM_DOMAIN, WORKERS_DEPLOYMENT, WORKERS_ROUTE, WORKERS_SCRIPT,
    Lookup, ReportViolation, Rule, config, each_resource, is_unknown, items, named_like, number, of_type, raw, shown,
    waiver, words,
)
from ._workers import scripts

CPU_MAX_MS = 300_000  # Cloudflare's ceiling for limits.cpu_ms
CPU_DEFAULT_MS = 30_000  # what a Worker gets when it declares no limit


def _compatibility(args: Any, report: ReportViolation) -> None:
    """Every Worker pins a compatibility date and sets the Node.js compatibility flag.

    Set services.<name>.compatibilityDate and compatibilityFlags: [nodejs_compat] (the
    optimization report's flags; nodejs_compat_v2 also counts)."""
    required = items(config(args).get("requiredFlags")) or ["nodejs_compat"]
    for script in scripts(args, report):
        for code in script.code:
            with each_resource(report, code.urn):
                flags = [str(f) for f in items(code.props.get("compatibilityFlags"))]
                missing = [f for f in required if not any(flag == f or flag.startswith(f"{f}_v") for flag in flags)]
                if missing or not code.props.get("compatibilityDate"):
                    report(f"Worker {script.name}: compatibility date {code.props.get('compatibilityDate')!r}, "
                           f"flags {flags}; it needs a date and {missing or required}", code.urn)


def _cpu_limits(args: Any, report: ReportViolation) -> None:
    """Every Worker declares its CPU limit, at least what the optimization report sets for it.

    Set services.<name>.cpuMs: 100000 for Project Awareness (the report's AI workloads), at
    least minCpuMs for the others, at most 300000 (Cloudflare's ceiling). Memory is fixed at
    128 MB per isolate and has no setting."""
    cfg = config(args)
    floors = dict(cfg.get("cpuMsByWorker") or CPU_BY_WORKER)
    for script in scripts(args, report):
        floor = next((ms for prefix, ms in floors.items() if named_like(script.name, prefix)),
                     cfg.get("minCpuMs", CPU_DEFAULT_MS))
        for code in script.code:
            with each_resource(report, code.urn):
                cpu = number((code.props.get("limits") or {}).get("cpuMs"))
                if cpu is None or not floor <= cpu <= CPU_MAX_MS:
                    report(f"Worker {script.name}: limits.cpuMs is {cpu}; it must be between {floor} and {CPU_MAX_MS}",
                           code.urn)


def _no_workers_dev(args: Any, report: ReportViolation) -> None:
    """No production Worker answers on its public workers.dev URL.

    The program declares WorkersScriptSubdomain enabled: false for each WorkersScript (subdomain:
    {enabled: false} on a v6 Worker): a workers.dev URL bypasses the zone's WAF, rate limits and
    Access. A Worker whose clients still call workers.dev is waived by name, with the reason."""
    for script in scripts(args, report):
        if script.workers_dev is not False and not waiver(args, str(script.name)):
            state = "enabled" if script.workers_dev else "not declared (Cloudflare may keep it on)"
            report(f"Worker {script.name}: the workers.dev URL is {state}; declare it disabled", script.resource.urn)


def _observability(args: Any, report: ReportViolation) -> None:
    """Every Worker has observability and logs on, sampling every request by default.

    Keep services.<name>.observability on (logs enabled, headSamplingRate at least
    minHeadSamplingRate); errors are tracked from these logs."""
    floor = config(args).get("minHeadSamplingRate", 1.0)  # the report's sampling_rate: 1.0
    for script in scripts(args, report):
        with each_resource(report, script.resource.urn):
            obs = script.observability
            rate = number(obs.get("headSamplingRate"))
            rate = 1.0 if rate is None else rate
            if obs.get("enabled") is not True or (obs.get("logs") or {}).get("enabled") is not True or rate < floor:
                report(f"Worker {script.name}: observability {shown(obs)} must be enabled with logs on and "
                       f"headSamplingRate at least {floor}", script.resource.urn)


def _required(args: Any, report: ReportViolation, resource_type: str, key: str, what: str, default: list[str]) -> None:
    wanted = items(config(args).get(key)) if key in config(args) else default
    prop = "hostname" if resource_type == WORKERS_CUSTOM_DOMAIN else "pattern"
    served = {r.props.get(prop): r for r in of_type(args.resources, resource_type)}
    for item in wanted:
        resource = served.get(item)
        key = "service" if resource_type == WORKERS_CUSTOM_DOMAIN else "script"
        target = resource.props.get(key) if resource else None
        if not target:
            report(f"{what} {item} is not served by a Worker of this stack; declare it", None)


def _custom_domains(args: Any, report: ReportViolation) -> None:
    """The custom domains the optimization report names are served by a Worker.

    List the hostname under services.<name>.customDomains (production: project-awareness.chitty.cc);
    requiredHostnames in policies/config/<stack>.json names them per stack."""
    _required(args, report, WORKERS_CUSTOM_DOMAIN, "requiredHostnames", "custom domain", REQUIRED_HOSTNAMES)


def _routes(args: Any, report: ReportViolation) -> None:
    """The routes the optimization report names are served by a Worker.

    List the pattern under services.<name>.routes (production: api.chitty.cc/project-awareness/*);
    requiredRoutes in policies/config/<stack>.json names them per stack."""
    _required(args, report, WORKERS_ROUTE, "requiredRoutes", "route", REQUIRED_ROUTES)


def _created_classes(code: Any) -> set[str]:
    migrations = code.props.get("migrations") or {}
    steps = [migrations, *items(migrations.get("steps"))]
    created = {str(c) for step in steps for key in ("newClasses", "newSqliteClasses") for c in items(step.get(key))}
    created |= {str(m.get("to")) for step in steps for key in ("renamedClasses", "transferredClasses")
                for m in items(step.get(key))}
    deleted = {str(c) for step in steps for c in items(step.get("deletedClasses"))}
    return created - deleted


def _durable_objects(args: Any, report: ReportViolation) -> None:
    """Every Durable Object class a Worker binds is deployed by a migration of a Worker of this stack.

    Declare the class under durableObjects.<name>.classes (its host Worker's migrations create it)
    and bind it by name; requiredClasses lists the classes the report and the guide deploy. A class
    bound by live code the program adopts without declaring is waived by name, with the reason."""
    every = scripts(args, report)
    classes = {script.name: set().union(*(_created_classes(c) for c in script.code)) for script in every}
    bound: set[str] = set()
    for script in every:
        for code in script.code:
            with each_resource(report, code.urn):
                for binding in items(code.props.get("bindings")):
                    if binding.get("type") != "durable_object_namespace":
                        continue
                    cls, host = str(binding.get("className")), binding.get("scriptName") or script.name
                    bound.add(cls)
                    if cls not in classes.get(host, set()):
                        report(f"Worker {script.name}: binding {binding.get('name')} uses class {cls} of Worker "
                               f"{host}, which no migration of this stack deploys", code.urn)
    for cls in items(config(args).get("requiredClasses")) or REQUIRED_CLASSES:
        if cls not in bound and not waiver(args, cls):
            report(f"Durable Object class {cls} is not bound by any Worker of this stack", None)


def _datasets(args: Any, report: ReportViolation) -> None:
    """Every Analytics Engine dataset the checklist lists (usage, performance, security, business) is bound.

    Bind one analytics_engine dataset per kind (services.<name>.bindings); a dataset exists once a
    Worker writes to it. A kind the program does not have yet is waived with its reason."""
    found = {word for script in scripts(args, report) for code in script.code
             for b in items(code.props.get("bindings")) if b.get("type") == "analytics_engine"
             for word in words(str(b.get("dataset")))}
    for kind in DATASET_KINDS:
        if kind not in found and not waiver(args, kind):
            report(f"no Analytics Engine dataset for {kind} is bound (a dataset named *_{kind}_*)", None)


def _versioned(args: Any, report: ReportViolation) -> None:
    """Every Worker whose code this stack uploads is deployed by percentage, stable and canary totalling 100 %.

    Declare the code as versions of a Worker with one WorkersDeployment (strategy percentage): the stable
    version alone at 100 %, or with a canary (services.<name>.canary.percent), so that a rollout moves by
    steps and a rollback (`chittyos-edge rollback`) is one change. A WorkersScript sends all the traffic to
    each upload at once. Workers whose code is live (deployed by their own repository) upload none here."""
    deployments = Lookup(of_type(args.resources, WORKERS_DEPLOYMENT), lambda d: [("name", raw(d.props, "scriptName"))])
    for resource in of_type(args.resources, WORKERS_SCRIPT):
        report(f"Worker {resource.props.get('scriptName')}: a WorkersScript takes 100 % of the traffic at every "
               "upload; declare a Worker with versions and a percentage deployment", resource.urn)
    for script in scripts(args, report):
        if script.resource.resource_type == WORKERS_SCRIPT or not script.code:
            continue
        with each_resource(report, script.resource.urn):
            mine = deployments.find(("name", script.name))
            if not mine:
                report(f"Worker {script.name}: {len(script.code)} version(s) and no deployment serving them",
                       script.resource.urn)
            for deployment in mine:
                shares = [number(v.get("percentage")) for v in items(deployment.props.get("versions"))]
                if (deployment.props.get("strategy") != "percentage" or not 1 <= len(shares) <= 2
                        or None in shares or sum(shares) != 100 or any(not 0 <= s <= 100 for s in shares)):
                    report(f"Worker {script.name}: deployment strategy {deployment.props.get('strategy')!r} with "
                           f"shares {shares}; it must be 'percentage' over one or two versions totalling 100",
                           deployment.urn)


def _carries_migrations(version: Any) -> bool:
    migrations = raw(version.props, "migrations")
    return is_unknown(migrations) or bool(migrations)


def _migrations_at_full_traffic(args: Any, report: ReportViolation) -> None:
    """Durable Object migrations ship only with a deployment sending all the traffic to one version.

    A migration applies to every object of its namespace when the version carrying it is deployed; split
    between two versions, objects would run the old code over migrated storage (Cloudflare refuses gradual
    deployments of such versions). Remove the canary (`chittyos-edge rollback`) or promote it (`rollout
    --percent 100`), deploy the migration, then start the canary again (services.<name>.canary)."""
    versions = {v.urn: v for v in of_type(args.resources, WORKER_VERSION)}
    for deployment in of_type(args.resources, WORKERS_DEPLOYMENT):
        with each_resource(report, deployment.urn):
            shares = [number(v.get("percentage")) for v in items(deployment.props.get("versions"))]
            if len(shares) <= 1 and all(share == 100 for share in shares):
                continue  # one version, all the traffic
            listed = [versions[d.urn] for d in deployment.property_dependencies.get("versions", [])
                      if d.urn in versions]
            carrying = [v.name for v in listed if _carries_migrations(v)]
            if carrying:
                report(f"Worker {raw(deployment.props, 'scriptName')}: the deployment splits the traffic {shares} "
                       f"while {', '.join(carrying)} carries Durable Object migrations", deployment.urn)


CPU_BY_WORKER = {"chittyops-project-awareness": 100_000}
REQUIRED_HOSTNAMES = ["project-awareness.chitty.cc"]
REQUIRED_ROUTES = ["api.chitty.cc/project-awareness/*"]
REQUIRED_CLASSES = ["SessionStateDO", "ProjectAwarenessDurableObject", "SessionSyncDurableObject"]
DATASET_KINDS = ("usage", "performance", "security", "business")


def _names(default: list[str], what: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "default": default, "description": what}


_FLAGS = {"requiredFlags": _names(["nodejs_compat"], "Compatibility flags every Worker sets.")}
_CPU = {"cpuMsByWorker": {"type": "object", "additionalProperties": {"type": "number", "maximum": CPU_MAX_MS},
                          "default": CPU_BY_WORKER, "description": "Least cpuMs per Worker (name without environment)."},
        "minCpuMs": {"type": "number", "default": CPU_DEFAULT_MS, "minimum": CPU_DEFAULT_MS,
                     "description": "Least cpuMs of any other Worker."}}
_SAMPLING = {"minHeadSamplingRate": {"type": "number", "default": 1.0, "exclusiveMinimum": 0, "maximum": 1.0,
                                     "description": "Least share of requests logged (the report samples them all)."}}
_HOSTNAMES = {"requiredHostnames": _names(REQUIRED_HOSTNAMES, "Hostnames a Worker of this stack must serve.")}
_ROUTES = {"requiredRoutes": _names(REQUIRED_ROUTES, "Route patterns a Worker of this stack must serve.")}
_CLASSES = {"requiredClasses": _names(REQUIRED_CLASSES, "Durable Object classes that must be bound.")}
H, M, ANY = Severity.HIGH, Severity.MEDIUM, (ANY_CLAUSE,)

RULES = [
    Rule("CF-WRK-001", "worker-nodejs-compatibility", M, C.COMPAT_FLAGS, _compatibility, scope="stack", config=_FLAGS,
         key="services.<entry>.compatibilityFlags"),
    Rule("CF-WRK-002", "worker-cpu-limits", M, C.WORKER_LIMITS, _cpu_limits, scope="stack", config=_CPU,
         key="services.<entry>.cpuMs"),
    Rule("CF-WRK-003", "worker-not-on-workers-dev", H, C.CUSTOM_DOMAINS, _no_workers_dev, scope="stack", waivable=ANY,
         key="services.<entry>.workersDev"),
    Rule("CF-WRK-004", "worker-observability-on", M, C.ERROR_TRACKING, _observability, scope="stack", config=_SAMPLING,
         key="services.<entry>.observability"),
    Rule("CF-WRK-005", "worker-custom-domains-served", H, C.PRIMARY_DOMAIN, _custom_domains, scope="stack",
         config=_HOSTNAMES, key="services.<entry>.customDomains"),
    Rule("CF-WRK-006", "worker-routes-served", M, C.API_SUBDOMAIN, _routes, scope="stack", config=_ROUTES,
         key="services.<entry>.routes"),
    Rule("CF-DO-002", "durable-object-classes-deployed", H, C.DO_CLASSES, _durable_objects, scope="stack",
         config=_CLASSES, waivable=ANY, key="durableObjects.<entry>.classes"),
    Rule("CF-WRK-007", "worker-versioned-deployment", H, C.BLUE_GREEN, _versioned, scope="stack",
         key="services.<entry>.canary"),
    Rule("CF-DO-003", "durable-object-migrations-at-full-traffic", H, C.DO_MIGRATIONS, _migrations_at_full_traffic,
         scope="stack", key="services.<entry>.canary"),
    Rule("CF-AE-001", "analytics-datasets-bound", M, C.AE_DATASETS, _datasets, scope="stack", waivable=DATASET_KINDS,
         key="services.<entry>.bindings"),
]
