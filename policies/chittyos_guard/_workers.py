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
    WORKER, WORKER_VERSION, WORKERS_SCRIPT, WORKERS_SUBDOMAIN, Lookup, ReportViolation, each_resource, is_unknown,
    of_type, per_call, raw,
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


@per_call
def _subdomains(args: Any) -> Lookup:
    """The workers.dev settings by the script they name."""
    return Lookup(of_type(args.resources, WORKERS_SUBDOMAIN), lambda s: [("name", raw(s.props, "scriptName"))])


@per_call
def _versions(args: Any) -> Lookup:
    """The versions by the Worker they belong to: the one their workerId depends on, or the id or name it
    holds when known."""
    def keys(version: Any) -> list[tuple[str, Any]]:
        target = raw(version.props, "workerId")
        return [*(("urn", dep.urn) for dep in version.property_dependencies.get("workerId", [])),
                *([] if is_unknown(target) else [("id", target)])]
    return Lookup(of_type(args.resources, WORKER_VERSION), keys)


def scripts(args: Any, report: ReportViolation) -> list[Script]:
    found: list[Script] = []
    for resource in of_type(args.resources, WORKERS_SCRIPT):
        with each_resource(report, resource.urn):
            name = resource.props.get("scriptName")
            declared = [s.props.get("enabled") for s in _subdomains(args).find(("name", name))]
            found.append(Script(name, resource, [resource], declared[0] if declared else None))
    for resource in of_type(args.resources, WORKER):
        with each_resource(report, resource.urn):
            subdomain = resource.props.get("subdomain") or {}
            versions = _versions(args).find(("urn", resource.urn), ("id", raw(resource.props, "id")),
                                            ("id", raw(resource.props, "name")))
            found.append(Script(resource.props.get("name"), resource, versions, subdomain.get("enabled")))
    return found


def script_names(args: Any) -> set[str]:
    """The names of the Workers this stack declares (known ones)."""
    names = {raw(r.props, "scriptName") for r in of_type(args.resources, WORKERS_SCRIPT)}
    names |= {raw(r.props, "name") for r in of_type(args.resources, WORKER)}
    return {n for n in names if isinstance(n, str) and not is_unknown(n)}
