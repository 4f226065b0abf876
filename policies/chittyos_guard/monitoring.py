"""Every public hostname has a health check, and every health check's failure reaches someone."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import (
    HEALTHCHECK, LOAD_BALANCER, NOTIFICATION_POLICY, R2_CUSTOM_DOMAIN, TUNNEL_CONFIG, WORKERS_CUSTOM_DOMAIN,
    WORKERS_ROUTE, ReportViolation, Rule, each_resource, host_of, items, of_type, raw,
)

HEALTH_ALERT = "health_check_status_notification"
MECHANISMS = ("emails", "webhooks", "pagerduties")


def public_hostnames(args: Any, report: ReportViolation) -> dict[str, str]:
    """hostname -> urn of the resource that makes it public."""
    found: dict[str, str] = {}

    def add(host: Any, urn: str) -> None:
        if isinstance(host, str) and host and not host.startswith("*"):
            found.setdefault(host, urn)

    for r in of_type(args.resources, WORKERS_CUSTOM_DOMAIN):
        with each_resource(report, r.urn):
            add(r.props.get("hostname"), r.urn)
    for r in of_type(args.resources, WORKERS_ROUTE):
        with each_resource(report, r.urn):
            add(host_of(str(r.props.get("pattern") or "")), r.urn)
    for r in of_type(args.resources, LOAD_BALANCER):
        with each_resource(report, r.urn):
            add(r.props.get("name"), r.urn)
    for r in of_type(args.resources, R2_CUSTOM_DOMAIN):
        with each_resource(report, r.urn):
            add(r.props.get("domain"), r.urn)
    for r in of_type(args.resources, TUNNEL_CONFIG):
        with each_resource(report, r.urn):
            for ingress in items((r.props.get("config") or {}).get("ingresses")):
                add(ingress.get("hostname"), r.urn)
    return found


def _checked_hosts(check: Any) -> set[str]:
    props = check.props
    hosts = {props.get("address")}
    header = ((props.get("httpConfig") or {}).get("header") or {})
    hosts.update(items(header.get("Host")))
    return {h for h in hosts if isinstance(h, str)}


def _health_checks(args: Any, report: ReportViolation) -> None:
    checked: set[str] = set()
    for check in of_type(args.resources, HEALTHCHECK):
        with each_resource(report, check.urn):
            if check.props.get("suspended") is not True:
                checked |= _checked_hosts(check)
    for host, urn in public_hostnames(args, report).items():
        if host not in checked:
            report(f"public hostname {host} has no active health check; add monitoring.healthChecks "
                   f"{{hostname: {host}, path: /health}}", urn)


def _routes_failures(policy: Any, check: Any) -> bool:
    props = policy.props
    if props.get("alertType") != HEALTH_ALERT or props.get("enabled") is False:
        return False
    mechanisms = props.get("mechanisms") or {}
    if not any(items(mechanisms.get(kind)) for kind in MECHANISMS):
        return False
    filters = props.get("filters") or {}
    ids = raw(filters, "healthCheckIds")
    if ids is None:
        return True  # no filter: every health check of the zone
    if any(dep.urn == check.urn for dep in policy.property_dependencies.get("filters", [])):
        return True
    own = raw(check.props, "id")
    return bool(own) and own in items(filters.get("healthCheckIds"))


def _alert_routes(args: Any, report: ReportViolation) -> None:
    policies = of_type(args.resources, NOTIFICATION_POLICY)
    for check in of_type(args.resources, HEALTHCHECK):
        with each_resource(report, check.urn):
            if not any(_routes_failures(p, check) for p in policies):
                report(f"health check {check.props.get('name')!r} ({check.props.get('address')}) has no enabled "
                       f"'{HEALTH_ALERT}' notification policy with a destination (email, webhook or PagerDuty)",
                       check.urn)


RULES = [
    Rule(
        id="CF-MON-001", name="public-hostnames-health-checked", scope="stack",
        title="Every public hostname has an active health check.",
        severity=Severity.HIGH,
        checklist="Monitoring and Alerting > Comprehensive Health Checks > Primary endpoint health check configured",
        remediation="Add a monitoring.healthChecks entry for the hostname (path /health); a hostname behind "
                    "Access sets behindAccess: true so the check sends the service token.",
        check=_health_checks,
    ),
    Rule(
        id="CF-MON-002", name="health-check-failures-notified", scope="stack",
        title="Every health check's failures are routed to a notification destination.",
        severity=Severity.HIGH,
        checklist="Monitoring and Alerting > Critical Alerts > Service down alerts active",
        remediation="Add a monitoring.alerts entry with alertType health_check_status_notification (critical "
                    "goes to PagerDuty and Slack) and keep pagerduty/slack enabled.",
        check=_alert_routes,
    ),
]
