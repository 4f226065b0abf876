"""Load balancing that can fail over: every pool monitored and enabled, every origin a hostname
some Worker of this stack serves, and the balancer's pools and fallback declared."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._hosts import WORKER_SOURCES, hostnames
from ._rule import (
    DNS_RECORD, LOAD_BALANCER, LOAD_BALANCER_POOL, ReportViolation, Rule, each_resource, items, of_type, raw, waiver,
)


def _pools(args: Any, report: ReportViolation) -> None:
    """Load-balancer pools are monitored, with enabled origins this stack serves; balancers have pools and a fallback.

    Give loadBalancing.pools[] a monitor and origins whose hostnames are custom domains or routes
    of this stack's Workers (an origin nothing serves is always down and pages on-call); set
    defaultPools and fallbackPool. A stack may waive `unservedOrigins` with a reason while
    planned regions are not deployed yet."""
    served = set(hostnames(args, report, WORKER_SOURCES)) | {
        raw(r.props, "name") for r in of_type(args.resources, DNS_RECORD)}
    for pool in of_type(args.resources, LOAD_BALANCER_POOL):
        with each_resource(report, pool.urn):
            props, problems = pool.props, []
            if not raw(props, "monitor") and not pool.property_dependencies.get("monitor"):
                problems.append("has no monitor: origins are never health-checked, so failover never happens")
            if props.get("enabled") is False or not items(props.get("origins")):
                problems.append("is disabled or has no origins")
            for origin in items(props.get("origins")):
                address = origin.get("address")
                if origin.get("enabled") is False:
                    problems.append(f"origin {origin.get('name')} is disabled")
                elif address not in served and not waiver(args, "unservedOrigins"):
                    problems.append(f"origin {origin.get('name')} ({address}) is served by nothing in this stack")
            if problems:
                report(f"pool {props.get('name')!r} {'; '.join(problems)}", pool.urn)
    for balancer in of_type(args.resources, LOAD_BALANCER):
        with each_resource(report, balancer.urn):
            props = balancer.props
            if not items(props.get("defaultPools")) or not props.get("fallbackPool") or props.get("enabled") is False:
                report(f"load balancer {props.get('name')} needs enabled default pools and a fallback pool",
                       balancer.urn)


RULES = [
    Rule("CF-LB-001", "load-balancer-pools-monitored", Severity.HIGH, C.LOAD_BALANCING, _pools, scope="stack",
         waivable=("unservedOrigins",), key="loadBalancing.pools"),
]
