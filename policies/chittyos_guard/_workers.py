"""Workers as the rules see them, whichever resource family declares them.

v6 has two: one `WorkersScript` (name, code, bindings, settings in one resource), or a `Worker`
(name, observability, workers.dev subdomain) with `WorkerVersion`s (code, bindings, flags,
limits, migrations) deployed by a `WorkersDeployment`. A `Script` joins them: its name, the
resource that names it (to blame), the resources holding its code settings (the script itself,
or each version), and its observability and workers.dev settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._rule import (
    WORKER, WORKER_VERSION, WORKERS_SCRIPT, WORKERS_SUBDOMAIN, ReportViolation, each_resource, is_unknown, of_type,
    raw,
)


@dataclass
class Script:
    name: Any
    resource: Any  # the WorkersScript or the Worker
    code: list[Any] = field(default_factory=list)  # resources whose props hold bindings, flags, limits
    workers_dev: Any = None  # True/False as declared, None when nothing declares it

    @property
    def observability(self) -> Any:
        return self.resource.props.get("observability") or {}


def _version_of(version: Any, worker: Any) -> bool:
    if any(dep.urn == worker.urn for dep in version.property_dependencies.get("workerId", [])):
        return True
    target = raw(version.props, "workerId")
    return not is_unknown(target) and target in (raw(worker.props, "id"), raw(worker.props, "name"))


def scripts(args: Any, report: ReportViolation) -> list[Script]:
    found: list[Script] = []
    subdomains = of_type(args.resources, WORKERS_SUBDOMAIN)
    for resource in of_type(args.resources, WORKERS_SCRIPT):
        with each_resource(report, resource.urn):
            name = resource.props.get("scriptName")
            declared = [s.props.get("enabled") for s in subdomains if raw(s.props, "scriptName") == name]
            found.append(Script(name, resource, [resource], declared[0] if declared else None))
    versions = of_type(args.resources, WORKER_VERSION)
    for resource in of_type(args.resources, WORKER):
        with each_resource(report, resource.urn):
            subdomain = resource.props.get("subdomain") or {}
            found.append(Script(resource.props.get("name"), resource, [v for v in versions if _version_of(v, resource)],
                                subdomain.get("enabled")))
    return found


def script_names(args: Any) -> set[str]:
    """The names of the Workers this stack declares (known ones)."""
    names = {raw(r.props, "scriptName") for r in of_type(args.resources, WORKERS_SCRIPT)}
    names |= {raw(r.props, "name") for r in of_type(args.resources, WORKER)}
    return {n for n in names if isinstance(n, str) and not is_unknown(n)}
