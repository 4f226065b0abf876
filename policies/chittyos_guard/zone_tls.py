"""Transport security of every managed zone: TLS 1.3 minimum, SSL strict, HTTPS only, HSTS.

Each setting is one `ZoneSetting` (v6 has one resource per setting). The rules are stack rules
because a missing setting is as much a violation as a wrong one.
"""

from __future__ import annotations

from typing import Any, Callable

from pulumi_policy import Severity

from ._rule import REQUIRE_ZONE_SCHEMA, ReportViolation, Rule, each_resource
from ._zones import managed_zones, zone_settings

HSTS_MIN_AGE = 31536000  # one year, the preload list's minimum


def _setting_rule(setting_id: str, what: str, ok: Callable[[Any], str | None]):
    """A check that every managed zone has `setting_id` and that each value passes `ok`
    (which returns the problem, or None)."""

    def check(args: Any, report: ReportViolation) -> None:
        for zone in managed_zones(args, report, what):
            found = zone_settings(args, zone, setting_id)
            if not found:
                report(f"zone {zone} has no ZoneSetting '{setting_id}', so {what} is not enforced: "
                       f"declare it (edgeSecurity.tls)", None)
            for r in found:
                with each_resource(report, r.urn):
                    problem = ok(r.props.get("value"))
                    if problem:
                        report(f"ZoneSetting {r.name} ('{setting_id}' of zone {zone}): {problem}", r.urn)

    return check


def _min_tls(value: Any) -> str | None:
    return None if value == "1.3" else f"min_tls_version is {value!r}; it must be '1.3'"


def _ssl(value: Any) -> str | None:
    return None if value == "strict" else f"ssl is {value!r}; it must be 'strict' (Full (strict): origin certificate validated)"


def _always_https(value: Any) -> str | None:
    return None if value == "on" else f"always_use_https is {value!r}; it must be 'on'"


def _hsts(value: Any) -> str | None:
    if not value or not hasattr(value, "get"):
        return f"security_header value is {value!r}; it needs strict_transport_security"
    if "strictTransportSecurity" in value:
        return ("the value uses camelCase keys (strictTransportSecurity); ZoneSetting.value is sent verbatim, "
                "so use the API's snake_case keys (strict_transport_security, max_age, ...)")
    hsts = value.get("strict_transport_security")
    if not hsts:
        return "security_header has no strict_transport_security"
    problems = []
    if hsts.get("enabled") is not True:
        problems.append("enabled must be true")
    age = hsts.get("max_age")
    if not isinstance(age, (int, float)) or age < HSTS_MIN_AGE:
        problems.append(f"max_age is {age!r}; it must be at least {HSTS_MIN_AGE} (one year)")
    if hsts.get("include_subdomains") is not True:
        problems.append("include_subdomains must be true")
    if hsts.get("preload") is not True:
        problems.append("preload must be true")
    return "; ".join(problems) or None


_ZONE = {"requireManagedZone": REQUIRE_ZONE_SCHEMA}

RULES = [
    Rule(
        id="CF-TLS-001", name="zone-min-tls-1-3", scope="stack", config=_ZONE,
        title="Every managed zone accepts TLS 1.3 and nothing older.",
        severity=Severity.HIGH,
        checklist="DNS and Domain Configuration > Primary Domain Setup > SSL certificate installed and valid",
        remediation="Set edgeSecurity.tls.minTlsVersion: \"1.3\" in the production stack file; the "
                    "EdgeSecurity component declares ZoneSetting 'min_tls_version' with value '1.3'.",
        check=_setting_rule("min_tls_version", "the minimum TLS version", _min_tls),
    ),
    Rule(
        id="CF-TLS-002", name="zone-ssl-strict", scope="stack", config=_ZONE,
        title="Every managed zone uses SSL mode Full (strict).",
        severity=Severity.HIGH,
        checklist="DNS and Domain Configuration > Primary Domain Setup > SSL certificate installed and valid",
        remediation="Set edgeSecurity.tls.sslMode: strict; it declares ZoneSetting 'ssl' with value 'strict'.",
        check=_setting_rule("ssl", "SSL mode Full (strict)", _ssl),
    ),
    Rule(
        id="CF-TLS-003", name="zone-always-use-https", scope="stack", config=_ZONE,
        title="Every managed zone redirects HTTP to HTTPS.",
        severity=Severity.HIGH,
        checklist="DNS and Domain Configuration > Primary Domain Setup > HSTS configuration enabled",
        remediation="Set edgeSecurity.tls.alwaysUseHttps: true; it declares ZoneSetting 'always_use_https' 'on'.",
        check=_setting_rule("always_use_https", "always-use-HTTPS", _always_https),
    ),
    Rule(
        id="CF-TLS-004", name="zone-hsts-preload", scope="stack", config=_ZONE,
        title="Every managed zone sends HSTS for one year with subdomains and preload.",
        severity=Severity.HIGH,
        checklist="Security Headers and Policies > Security Headers > HSTS configured with preload",
        remediation="Set edgeSecurity.tls.hsts {maxAge: 31536000, includeSubdomains: true, preload: true}; it "
                    "declares ZoneSetting 'security_header' with value.strict_transport_security in snake_case.",
        check=_setting_rule("security_header", "HSTS", _hsts),
    ),
]
