"""Which zones a stack manages, for the zone-wide rules (TLS, HSTS, WAF, rate limits).

A zone is managed by a stack when the stack registers zone-wide resources for it (settings,
rulesets, DNSSEC). A stack whose policy config says `requireManagedZone` (production owns the
zone-wide singletons) must also manage every zone it serves, so removing the settings from the
program is a violation rather than a silent pass.
"""

from __future__ import annotations

from typing import Any

from ._rule import (
    DNS_RECORD, HEALTHCHECK, LOAD_BALANCER, R2_CUSTOM_DOMAIN, RULESET, WORKERS_CUSTOM_DOMAIN, WORKERS_ROUTE,
    ZONE_DNSSEC, ZONE_SETTING, ReportViolation, config, of_type,
)

ZONE_WIDE = (ZONE_SETTING, RULESET, ZONE_DNSSEC)
SERVING = (WORKERS_ROUTE, WORKERS_CUSTOM_DOMAIN, DNS_RECORD, HEALTHCHECK, LOAD_BALANCER, R2_CUSTOM_DOMAIN)


def managed_zones(args: Any, report: ReportViolation, what: str) -> list[str]:
    """Zone ids to check, in first-seen order. Reports when the stack must own zone settings but
    registers none."""
    zones: list[str] = []
    for r in of_type(args.resources, *ZONE_WIDE):
        zone = r.props.get("zoneId")
        if zone and zone not in zones:
            zones.append(zone)
    if config(args).get("requireManagedZone"):
        for r in of_type(args.resources, *SERVING):
            zone = r.props.get("zoneId")
            if zone and zone not in zones:
                zones.append(zone)
        if not zones:
            report(f"this stack owns the zone-wide settings (requireManagedZone) but registers no zone "
                   f"resources, so nothing sets {what}", None)
    return zones


def zone_settings(args: Any, zone: str, setting_id: str) -> list:
    return [r for r in of_type(args.resources, ZONE_SETTING)
            if r.props.get("zoneId") == zone and r.props.get("settingId") == setting_id]


def zone_rulesets(args: Any, zone: str, phase: str) -> list:
    return [r for r in of_type(args.resources, RULESET)
            if r.props.get("zoneId") == zone and r.props.get("phase") == phase]
