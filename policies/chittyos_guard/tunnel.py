"""The tunnel in front of 1Password Connect and the Access gate on it.

- ingress ends with a catch-all, and every ingress rule with a hostname makes cloudflared check
  the Access token itself (`originRequest.access`);
- every tunnel hostname sits behind a self-hosted Access application with a policy, and those
  policies admit named people and service tokens only (never `everyone`, never `bypass`);
- Access sessions are short and their cookies HTTP-only and same-site; service tokens expire
  within a year and their expiry is alerted.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._hosts import TUNNEL_SOURCES, hostnames
from ._rule import (
    ACCESS_APPLICATION, ACCESS_POLICY, ACCESS_SERVICE_TOKEN, NOTIFICATION_POLICY, TUNNEL_CONFIG, ReportViolation,
    Rule, config, duration_hours, each_resource, items, of_type, shown,
)


def _catch_all(args: Any, report: ReportViolation) -> None:
    """Tunnel ingress ends with a catch-all that answers 404.

    Keep tunnel.ingress to hostname rules; the SecureTunnel component appends
    {service: http_status:404} as the last rule."""
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


def _origin_checks_access(args: Any, report: ReportViolation) -> None:
    """cloudflared checks the Access token on every tunnel hostname (originRequest.access required, with the audience).

    The SecureTunnel component sets originRequest.access {required: true, audTags: [the Access
    application's aud], teamName} on each ingress rule: a request that reached the tunnel without
    passing Access is refused at the origin."""
    if args.resource_type != TUNNEL_CONFIG:
        return
    for index, ingress in enumerate(items((args.props.get("config") or {}).get("ingresses"))):
        if not ingress.get("hostname"):
            continue
        access = (ingress.get("originRequest") or {}).get("access") or {}
        if access.get("required") is not True or not items(access.get("audTags")) or not access.get("teamName"):
            report(f"ingress rule {index} ({ingress.get('hostname')}) does not require an Access token at the origin "
                   f"(originRequest.access {shown(access)})")


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


def _behind_access(args: Any, report: ReportViolation) -> None:
    """Every tunnel hostname sits behind an Access application.

    Configure tunnel.access (allowEmailDomains/allowGroupIds/serviceTokens); the SecureTunnel
    component creates a self-hosted Access application for the tunnel hostname."""
    covered: set[str] = set()
    for app in of_type(args.resources, ACCESS_APPLICATION):
        with each_resource(report, app.urn):
            if _protects(app):
                covered |= _app_hosts(app)
    for host, resource in hostnames(args, report, TUNNEL_SOURCES).items():
        if host not in covered:
            report(f"tunnel hostname {host} is not behind a self-hosted Access application with a policy; "
                   "anyone could reach the origin", resource.urn)


def _admits(args: Any, report: ReportViolation) -> None:
    """Access policies admit named people and service tokens only: never everyone, never bypass.

    Give tunnel.access email domains, groups or service tokens; a policy with decision bypass, or
    that includes everyone, any valid service token or any IP, opens the application."""
    forbidden = set(items(config(args).get("forbiddenIncludes")) or FORBIDDEN_INCLUDES)
    inline = [(app, p) for app in of_type(args.resources, ACCESS_APPLICATION) for p in items(app.props.get("policies"))
              if p.get("decision") or p.get("includes")]
    for resource, policy in [(p, p.props) for p in of_type(args.resources, ACCESS_POLICY)] + inline:
        with each_resource(report, resource.urn):
            decision = policy.get("decision")
            opened = [key for include in items(policy.get("includes")) for key in include
                      if key in forbidden or (key == "ip" and str((include.get("ip") or {}).get("ip")) in ANY_IP)]
            if decision == "bypass" or opened:
                report(f"Access policy {policy.get('name') or resource.name!r}: decision {decision!r}, "
                       f"includes {opened or 'nobody named'}", resource.urn)


def _sessions(args: Any, report: ReportViolation) -> None:
    """Access sessions last at most maxSessionHours, with HTTP-only, same-site cookies.

    Keep tunnel.access.sessionDuration at or under the limit (the applications and their policies
    both); leave httpOnlyCookieAttribute on and sameSiteCookieAttribute lax or strict."""
    limit = config(args).get("maxSessionHours", 24)
    for resource in of_type(args.resources, ACCESS_APPLICATION, ACCESS_POLICY):
        with each_resource(report, resource.urn):
            props, problems = resource.props, []
            duration = props.get("sessionDuration")
            hours = duration_hours(duration)
            if duration is not None and (hours is None or hours > limit):
                problems.append(f"sessionDuration {duration!r} is longer than {limit}h")
            if resource.resource_type == ACCESS_APPLICATION:
                if props.get("httpOnlyCookieAttribute") is False:
                    problems.append("its cookie is readable by scripts (httpOnlyCookieAttribute false)")
                if str(props.get("sameSiteCookieAttribute") or "lax").lower() not in ("lax", "strict"):
                    problems.append(f"sameSiteCookieAttribute is {props.get('sameSiteCookieAttribute')!r}")
            if problems:
                report(f"{resource.name}: {'; '.join(problems)}", resource.urn)


def _service_tokens(args: Any, report: ReportViolation) -> None:
    """Access service tokens expire within maxTokenHours, and an expiring-token alert exists.

    Keep tunnel.access.serviceTokens[].duration at 8760h or less (the guide: rotate yearly) and the
    monitoring alert expiring_service_token_alert."""
    limit = config(args).get("maxTokenHours", 8760)
    tokens = of_type(args.resources, ACCESS_SERVICE_TOKEN)
    for token in tokens:
        with each_resource(report, token.urn):
            duration = token.props.get("duration") or "8760h"  # Cloudflare's default
            hours = duration_hours(duration)
            if hours is None or hours > limit:
                report(f"service token {token.props.get('name')!r} lasts {duration!r}, longer than {limit}h", token.urn)
    alerted = any(p.props.get("alertType") == "expiring_service_token_alert" and p.props.get("enabled") is not False
                  for p in of_type(args.resources, NOTIFICATION_POLICY))
    if tokens and not alerted:
        report("service tokens exist but no enabled expiring_service_token_alert warns before they expire", None)


FORBIDDEN_INCLUDES = ["everyone", "anyValidServiceToken"]
ANY_IP = ("0.0.0.0/0", "::/0")
H, CRIT = Severity.HIGH, Severity.CRITICAL
_LIMITS = {"maxSessionHours": {"type": "number", "default": 24, "maximum": 24,
                               "description": "Longest Access session, in hours."}}
_TOKENS = {"maxTokenHours": {"type": "number", "default": 8760, "maximum": 8760,
                             "description": "Longest service-token life, in hours (the guide: a year)."}}
_INCLUDES = {"forbiddenIncludes": {"type": "array", "items": {"type": "string"}, "default": FORBIDDEN_INCLUDES,
                                   "description": "Access include selectors that admit too much."}}

RULES = [
    Rule("CF-TUN-001", "tunnel-ingress-catch-all", H, C.ACCESS_CONTROL, _catch_all, key="tunnel.ingress"),
    Rule("CF-TUN-002", "tunnel-hostnames-behind-access", CRIT, C.ACCESS_CONTROL, _behind_access, scope="stack",
         key="tunnel.access"),
    Rule("CF-TUN-003", "tunnel-origin-checks-access", H, C.ACCESS_CONTROL, _origin_checks_access, key="tunnel.ingress"),
    Rule("CF-TUN-004", "access-policies-admit-named-identities", CRIT, C.ACCESS_CONTROL, _admits, scope="stack",
         config=_INCLUDES, key="tunnel.access"),
    Rule("CF-TUN-005", "access-sessions-short-cookies-safe", H, C.SESSION_TIMEOUT, _sessions, scope="stack",
         config=_LIMITS, key="tunnel.access.sessionDuration"),
    Rule("CF-TUN-006", "service-tokens-expire-and-alert", H, C.TOKEN_EXPIRY, _service_tokens, scope="stack",
         config=_TOKENS, key="tunnel.access.serviceTokens"),
]
