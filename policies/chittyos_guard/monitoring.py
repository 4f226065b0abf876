"""Health checks and alerts as the optimization report sets them up.

- every public hostname has an active health check, and every check's failures reach someone;
- checks probe the way the report says: HTTPS with certificate validation, 2xx (or the status a
  row allows), the report's body, its interval or tighter, several failures before an alert;
  the checks the report lists exist (`checks` in the policy config, keyed `host/path`);
- critical alerts page PagerDuty; no alert policy is disabled or goes nowhere; the alerts the
  checklist names exist (a table: alert types, and where they must go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from . import checklist as C
from ._hosts import PUBLIC_SOURCES, hostnames
from ._rule import (
    HEALTHCHECK, LOAD_BALANCER_MONITOR, NOTIFICATION_POLICY, NOTIFICATION_WEBHOOKS, ReportViolation, Rule, config,
    each_resource, items, number, of_type, raw, waiver,
)

HEALTH_ALERT = "health_check_status_notification"
CHECKS_KEY, ALERTS_KEY = "monitoring.healthChecks", "monitoring.alerts"  # the stack-file keys the fixes change


def _checked_hosts(check: Any) -> set[str]:
    props = check.props
    hosts = {props.get("address")}
    header = ((props.get("httpConfig") or {}).get("header") or {})
    hosts.update(items(header.get("Host")))
    return {h for h in hosts if isinstance(h, str)}


def _health_checks(args: Any, report: ReportViolation) -> None:
    """Every public hostname has an active health check.

    Add a monitoring.healthChecks entry for the hostname (path /health); a hostname behind Access
    sets behindAccess: true so the check sends the service token."""
    checked: set[str] = set()
    for check in of_type(args.resources, HEALTHCHECK):
        with each_resource(report, check.urn):
            if check.props.get("suspended") is not True:
                checked |= _checked_hosts(check)
    for host, resource in hostnames(args, report, PUBLIC_SOURCES).items():
        if host not in checked:
            report(f"public hostname {host} has no active health check; add monitoring.healthChecks "
                   f"{{hostname: {host}, path: /health}}", resource.urn)


# ---- where alerts go -----------------------------------------------------------------------

def _kind(webhook: Any) -> str:
    text = f"{raw(webhook.props, 'name')} {raw(webhook.props, 'url')}".lower()
    return "pagerduty" if "pagerduty" in text else "slack" if "slack" in text else "webhook"


def destinations(policy: Any, webhooks: list) -> set[str]:
    """Where a notification policy sends: pagerduty, slack, webhook, email."""
    mechanisms = policy.props.get("mechanisms") or {}
    found = {"pagerduty"} if items(mechanisms.get("pagerduties")) else set()
    found |= {"email"} if items(mechanisms.get("emails")) else set()
    ids = {raw(m, "id") for m in items(raw(mechanisms, "webhooks"))}
    deps = {d.urn for d in policy.property_dependencies.get("mechanisms", [])}
    found |= {_kind(w) for w in webhooks if w.urn in deps or raw(w.props, "id") in ids}
    if ids and not found:
        found.add("webhook")
    return found


def _webhooks(args: Any) -> list:
    return of_type(args.resources, NOTIFICATION_WEBHOOKS)


class _Listed:
    """What each notification policy lists (the checks its filters depend on, the ids they name), read
    once per policy: the rule asks every policy about every check. An unknown id list is raised again
    at each check that reads it, as reading it there would."""

    def __init__(self) -> None:
        self._deps: dict[int, set[str]] = {}
        self._ids: dict[int, Any] = {}

    def deps(self, policy: Any) -> set[str]:
        if id(policy) not in self._deps:
            self._deps[id(policy)] = {dep.urn for dep in policy.property_dependencies.get("filters", [])}
        return self._deps[id(policy)]

    def has_id(self, policy: Any, filters: Any, own: Any) -> bool:
        if id(policy) not in self._ids:
            try:
                listed = items(filters.get("healthCheckIds"))
                try:
                    self._ids[id(policy)] = set(listed)
                except TypeError:  # an unhashable entry: keep the list
                    self._ids[id(policy)] = listed
            except UnknownValueError as error:
                self._ids[id(policy)] = error
        listed = self._ids[id(policy)]
        if isinstance(listed, UnknownValueError):
            raise listed
        try:
            return own in listed
        except TypeError:  # an unhashable id asked of a set
            return any(own == entry for entry in listed)


def _routes_failures(policy: Any, check: Any, listed: _Listed) -> bool:
    props = policy.props
    if props.get("alertType") != HEALTH_ALERT or props.get("enabled") is False:
        return False
    filters = props.get("filters") or {}
    ids = raw(filters, "healthCheckIds")
    if ids is None:
        return True  # no filter: every health check of the zone
    if check.urn in listed.deps(policy):
        return True
    own = raw(check.props, "id")
    return bool(own) and listed.has_id(policy, filters, own)


def _alert_routes(args: Any, report: ReportViolation) -> None:
    """Every health check's failures are routed to a notification destination.

    Add a monitoring.alerts entry with alertType health_check_status_notification (critical goes to
    PagerDuty and Slack) and keep pagerduty/slack enabled."""
    policies, webhooks, listed = of_type(args.resources, NOTIFICATION_POLICY), _webhooks(args), _Listed()
    for check in of_type(args.resources, HEALTHCHECK):
        with each_resource(report, check.urn):
            if not any(_routes_failures(p, check, listed) and destinations(p, webhooks) for p in policies):
                report(f"health check {check.props.get('name')!r} ({check.props.get('address')}) has no enabled "
                       f"'{HEALTH_ALERT}' notification policy with a destination (email, webhook or PagerDuty)",
                       check.urn)


# ---- how checks probe ----------------------------------------------------------------------

def _probe(resource: Any) -> dict[str, Any]:
    """A Healthcheck or a load-balancer monitor, in one shape."""
    props = resource.props
    if resource.resource_type == HEALTHCHECK:
        http = props.get("httpConfig") or {}
        return {"key": f"{props.get('address')}{str(http.get('path') or '/').split('?')[0]}",
                "type": str(props.get("type") or "HTTP"), "insecure": http.get("allowInsecure"),
                "port": http.get("port"), "codes": [str(c) for c in items(http.get("expectedCodes"))],
                "body": http.get("expectedBody"), "interval": number(props.get("interval")),
                "fails": number(props.get("consecutiveFails")), "alerts": True}
    return {"key": str(props.get("path") or "/").split("?")[0], "type": str(props.get("type") or "http"),
            "insecure": props.get("allowInsecure"), "port": props.get("port"),
            "codes": [str(props.get("expectedCodes") or "")], "body": props.get("expectedBody"),
            "interval": number(props.get("interval")), "fails": None, "alerts": False}


def _probe_problems(probe: dict[str, Any], row: dict[str, Any], cfg: Any) -> list[str]:
    codes = items(row.get("expectedCodes")) or ["2xx"]
    allowed = lambda code: code in codes or any(c.endswith("xx") and code[:1] == c[:1] for c in codes)  # noqa: E731
    interval = row.get("maxIntervalSeconds", cfg.get("maxIntervalSeconds", 60))
    problems = []
    if probe["type"].upper() != "HTTPS" or probe["port"] not in (None, 443):
        problems.append(f"probes {probe['type']} on port {probe['port']}, not HTTPS on 443")
    if probe["insecure"] is True:
        problems.append("skips certificate validation (allowInsecure)")
    if not probe["codes"] or not all(allowed(code) for code in probe["codes"]):
        problems.append(f"expects status {probe['codes']}, not {codes}")
    if row.get("expectedBody") and row["expectedBody"] not in str(probe["body"] or ""):
        problems.append(f"expects body {probe['body']!r}, not {row['expectedBody']!r}")
    if probe["interval"] is None or probe["interval"] > interval:
        problems.append(f"runs every {probe['interval']} s, not every {interval} s or more often")
    fails = cfg.get("minConsecutiveFails", 3)
    if probe["alerts"] and (probe["fails"] or 1) < fails:
        problems.append(f"alerts after {probe['fails'] or 1} failure(s), not {fails} consecutive ones")
    return problems


def _probes(args: Any, report: ReportViolation) -> None:
    """Health checks probe HTTPS with certificate validation, expect 2xx and the report's body, at its interval.

    Set monitoring.healthChecks[] as the optimization report does: type HTTPS, allowInsecure false,
    expectedCodes 2xx (a row may allow another, as /ws expects 426), the report's expectedBody,
    interval no longer than its row (project-awareness /health 30 s) and consecutiveFails 3;
    load-balancer monitors likewise. Rows live in `checks` of policies/config/<stack>.json."""
    cfg = config(args)
    table = dict(cfg.get("checks") or CHECKS)
    for resource in of_type(args.resources, HEALTHCHECK, LOAD_BALANCER_MONITOR):
        with each_resource(report, resource.urn):
            probe = _probe(resource)
            problems = _probe_problems(probe, table.get(probe["key"]) or {}, cfg)
            if problems:
                report(f"{resource.name} ({probe['key']}): {'; '.join(problems)}", resource.urn)


def _listed_checks(args: Any, report: ReportViolation) -> None:
    """The health checks the optimization report lists exist: the primary endpoint, the API, storage and the WebSocket.

    Add a monitoring.healthChecks entry for each row of `checks` in policies/config/<stack>.json
    (hostname and path; production: project-awareness.chitty.cc /health, /api/projects/suggestions,
    /api/sessions/statistics and /ws)."""
    present = {_probe(r)["key"] for r in of_type(args.resources, HEALTHCHECK) if r.props.get("suspended") is not True}
    for key in dict(config(args).get("checks") or CHECKS):
        if key not in present:
            report(f"no active health check probes {key}", None)


# ---- alert policies ------------------------------------------------------------------------

def _recovery_only(policy: Any) -> bool:
    """A notice that something recovered (statuses/new healths only `Healthy`): never paged."""
    filters = policy.props.get("filters") or {}
    states = {str(s).lower() for key in ("statuses", "newHealths", "newStatuses") for s in items(filters.get(key))}
    return bool(states) and states <= {"healthy"}


def _critical(policy: Any, cfg: Any) -> bool:
    """Critical: the alert says so (`[critical]`), or it is of a critical type and not a warning or a
    recovery notice."""
    text = f"{policy.props.get('name')} {policy.props.get('description')}".lower()
    if "critical" in text:
        return True
    typed = policy.props.get("alertType") in (items(cfg.get("criticalAlertTypes")) or CRITICAL)
    return typed and "warning" not in text and not _recovery_only(policy)


def _paged(args: Any, report: ReportViolation) -> None:
    """Every critical alert pages PagerDuty.

    Route each critical monitoring.alerts entry (service down, a high error rate, anything described
    [critical]) to pagerduty as well as slack; monitoring.pagerduty must be configured. Recovery
    notices and warnings go to Slack only."""
    cfg, webhooks = config(args), _webhooks(args)
    for policy in of_type(args.resources, NOTIFICATION_POLICY):
        with each_resource(report, policy.urn):
            if _critical(policy, cfg) and "pagerduty" not in destinations(policy, webhooks):
                report(f"critical alert {policy.props.get('name')!r} ({policy.props.get('alertType')}) does not page "
                       "PagerDuty", policy.urn)


def _alerts_live(args: Any, report: ReportViolation) -> None:
    """Every alert policy is enabled and reaches a destination, and a Slack destination exists.

    Delete an alert rather than disable it; give each one a destination (monitoring.alerts[].to);
    monitoring.slack carries the warnings to #chittyos-alerts."""
    webhooks = _webhooks(args)
    for policy in of_type(args.resources, NOTIFICATION_POLICY):
        with each_resource(report, policy.urn):
            if policy.props.get("enabled") is False:
                report(f"alert {policy.props.get('name')!r} is disabled: a disabled alert pages nobody", policy.urn)
            elif not destinations(policy, webhooks):
                report(f"alert {policy.props.get('name')!r} has no destination", policy.urn)
    if not any(_kind(w) == "slack" for w in webhooks):
        report("no Slack destination (NotificationPolicyWebhooks to hooks.slack.com) is declared", None)


@dataclass(frozen=True)
class Alert:
    id: str
    name: str
    severity: Severity
    checklist: str
    types: tuple[str, ...]
    to: str  # "pagerduty", "slack" or "any"
    what: str
    named: str = ""  # also counts: an alert whose name says this (a stand-in, e.g. a latency health check)

    def _matches(self, policy: Any) -> bool:
        name = f"{policy.props.get('name')}".lower()
        return policy.props.get("alertType") in self.types or bool(self.named and self.named in name)

    def check(self, args: Any, report: ReportViolation) -> None:
        webhooks = _webhooks(args)
        found = [p for p in of_type(args.resources, NOTIFICATION_POLICY)
                 if self._matches(p) and p.props.get("enabled") is not False and not _recovery_only(p)]
        reaching = [p for p in found if (self.to == "any" and destinations(p, webhooks))
                    or self.to in destinations(p, webhooks)]
        kinds = " or ".join(self.types + ((f"*{self.named}*",) if self.named else ()))
        if found and not reaching:
            report(f"no {kinds} alert reaches {self.to} ({self.what}): "
                   f"{', '.join(str(p.props.get('name')) for p in found)} go elsewhere", found[0].urn)
        elif not found and not waiver(args, "undeclared"):
            report(f"no enabled {kinds} alert is declared ({self.what})", None)

    def rule(self) -> Rule:
        return Rule(self.id, self.name, self.severity, self.checklist, self.check, scope="stack",
                    waivable=("undeclared",), key=ALERTS_KEY, title=f"An enabled alert for {self.what} reaches {self.to}.",
                    remediation=f"Add a monitoring.alerts entry of alertType {' or '.join(self.types)}"
                                f"{f' (or named *{self.named}*)' if self.named else ''} routed to {self.to}; a stack "
                                "whose zone plan has no such alert waives `undeclared` with the stand-in it uses.")


# The report's critical alerts: service down (health checks) and a high error rate.
CRITICAL = ["health_check_status_notification", "http_alert_origin_error"]
PA = "project-awareness.chitty.cc"
HEALTHY = '"status":"healthy"'
# The optimization report's checks: host/path -> interval, status and body.
CHECKS = {
    f"{PA}/health": {"maxIntervalSeconds": 30, "expectedBody": HEALTHY},
    f"{PA}/api/projects/suggestions": {"maxIntervalSeconds": 60},
    f"{PA}/api/sessions/statistics": {"maxIntervalSeconds": 300},
    f"{PA}/ws": {"maxIntervalSeconds": 120, "expectedCodes": ["426"]},
}
_ROW = {"type": "object", "additionalProperties": False, "properties": {
    "maxIntervalSeconds": {"type": "number"}, "expectedBody": {"type": "string"},
    "expectedCodes": {"type": "array", "items": {"type": "string"}}}}
_PROBES = {
    "checks": {"type": "object", "additionalProperties": _ROW, "default": CHECKS,
               "description": "The report's checks, keyed host/path: interval, expected status and body."},
    "maxIntervalSeconds": {"type": "number", "default": 60, "description": "Longest interval of any other check."},
    "minConsecutiveFails": {"type": "number", "default": 3, "minimum": 2,
                            "description": "Failures in a row before a check turns unhealthy (the report: 3)."},
}
_LISTED = {"checks": _PROBES["checks"]}
_CRITICAL = {"criticalAlertTypes": {"type": "array", "items": {"type": "string"}, "default": CRITICAL,
                                    "description": "Alert types that must page (besides any described critical)."}}
H, M = Severity.HIGH, Severity.MEDIUM

ALERTS = (
    Alert("CF-MON-007", "alert-high-error-rate-paged", H, C.HIGH_ERROR_RATE, ("http_alert_origin_error", "advanced_http_alert_error"), "pagerduty", "a high error rate"),
    Alert("CF-MON-008", "alert-elevated-error-rate-warned", M, C.ELEVATED_ERROR_RATE, ("http_alert_edge_error", "advanced_http_alert_error"), "slack", "an elevated error rate"),
    Alert("CF-MON-009", "alert-performance-degradation-paged", H, C.PERFORMANCE_DEGRADATION, ("synthetic_test_latency_alert",), "pagerduty", "slow responses", "latency"),
    Alert("CF-MON-010", "alert-budget", M, C.BUDGET_ALERTS, ("billing_usage_alert",), "any", "usage-based billing"),
)

RULES = [
    Rule("CF-MON-001", "public-hostnames-health-checked", H, C.HC_PRIMARY, _health_checks, scope="stack", key=CHECKS_KEY),
    Rule("CF-MON-002", "health-check-failures-notified", H, C.SERVICE_DOWN, _alert_routes, scope="stack", key=ALERTS_KEY),
    # A load-balancer monitor probes too: its own entry (loadBalancing.monitor).
    Rule("CF-MON-003", "health-checks-probe-as-specified", H, C.HC_API, _probes, scope="stack", config=_PROBES,
         key=(CHECKS_KEY, "<entry>")),
    Rule("CF-MON-004", "listed-health-checks-exist", H, C.HC_WEBSOCKET, _listed_checks, scope="stack", config=_LISTED,
         key=CHECKS_KEY),
    Rule("CF-MON-005", "critical-alerts-page-pagerduty", H, C.PAGERDUTY, _paged, scope="stack", config=_CRITICAL,
         key=ALERTS_KEY),
    Rule("CF-MON-006", "alert-policies-live", H, C.SLACK, _alerts_live, scope="stack", key=ALERTS_KEY),
    *(alert.rule() for alert in ALERTS),
]
