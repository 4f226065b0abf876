"""The tunnel in front of 1Password Connect: ingress ends with a catch-all, and every tunnel
hostname sits behind an Access application."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import (
    ACCESS_APPLICATION, DNS_RECORD, TUNNEL, TUNNEL_CONFIG, ReportViolation, Rule, each_resource, is_unknown, items,
    of_type, raw,
)


def _catch_all(args: Any, report: ReportViolation) -> None:
    if args.resource_type != TUNNEL_CONFIG:
        return
    ingresses = items((args.props.get("config") or {}).get("ingresses"))
    if not ingresses:
        report("the tunnel config has no ingress rules; end them with {service: http_status:404}")
        return
    last = ingresses[-1]
    if last.get("hostname") or last.get("path"):
        report(f"the last ingress rule matches {last.get('hostname')!r}{last.get('path') or ''}; the last rule "
               "must be a catch-all without hostname or path")
    elif not str(last.get("service") or "").startswith("http_status:"):
        report(f"the catch-all ingress forwards every other hostname to {last.get('service')!r}; answer it with "
               "http_status:404")
    for index, ingress in enumerate(ingresses[:-1]):
        if not ingress.get("hostname"):
            report(f"ingress rule {index} has no hostname: it catches everything and shadows the rules after it")


def _app_hosts(app: Any) -> set[str]:
    props = app.props
    hosts = {str(props.get("domain") or "").split("/", 1)[0]}
    for destination in items(props.get("destinations")):
        if destination.get("type") in (None, "public"):
            hosts.add(str(destination.get("uri") or "").split("/", 1)[0])
    return {h for h in hosts if h}


def _protects(app: Any) -> bool:
    props = app.props
    return props.get("type") in (None, "self_hosted") and bool(items(props.get("policies")))


def _tunnel_hostnames(args: Any, report: ReportViolation) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for config in of_type(args.resources, TUNNEL_CONFIG):
        with each_resource(report, config.urn):
            for ingress in items((config.props.get("config") or {}).get("ingresses")):
                if ingress.get("hostname"):
                    hosts.setdefault(ingress.get("hostname"), config.urn)
    for record in of_type(args.resources, DNS_RECORD):
        with each_resource(report, record.urn):
            content = raw(record.props, "content")
            via_tunnel = (any(dep.resource_type == TUNNEL for dep in record.property_dependencies.get("content", []))
                          if is_unknown(content) else str(content or "").endswith(".cfargotunnel.com"))
            if via_tunnel:
                hosts.setdefault(record.props.get("name"), record.urn)
    return hosts


def _behind_access(args: Any, report: ReportViolation) -> None:
    apps = of_type(args.resources, ACCESS_APPLICATION)
    covered: set[str] = set()
    for app in apps:
        with each_resource(report, app.urn):
            if _protects(app):
                covered |= _app_hosts(app)
    for host, urn in _tunnel_hostnames(args, report).items():
        if host not in covered:
            report(f"tunnel hostname {host} is not behind a self-hosted Access application with a policy; "
                   "anyone could reach the origin", urn)


RULES = [
    Rule(
        id="CF-TUN-001", name="tunnel-ingress-catch-all",
        title="Tunnel ingress ends with a catch-all that answers 404.",
        severity=Severity.HIGH,
        checklist="Testing Validation > Vulnerability Assessment > Access control vulnerabilities resolved",
        remediation="Keep tunnel.ingress to hostname rules; the SecureTunnel component appends "
                    "{service: http_status:404} as the last rule.",
        check=_catch_all,
    ),
    Rule(
        id="CF-TUN-002", name="tunnel-hostnames-behind-access", scope="stack",
        title="Every tunnel hostname sits behind an Access application.",
        severity=Severity.CRITICAL,
        checklist="Testing Validation > Vulnerability Assessment > Access control vulnerabilities resolved",
        remediation="Configure tunnel.access (allowEmailDomains/allowGroupIds/serviceTokens); the SecureTunnel "
                    "component creates a self-hosted Access application for the tunnel hostname.",
        check=_behind_access,
    ),
]
