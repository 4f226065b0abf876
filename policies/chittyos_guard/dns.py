"""DNS records the program declares: proxied through Cloudflare, never wildcards, and CAA records
that name who may issue the zone's certificates (Prowler's dns_record_proxied,
dns_record_no_wildcard and zone_record_caa_exists). DNSSEC is a zone control (zone.py)."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._rule import DNS_RECORD, REQUIRE_ZONE_SCHEMA, ReportViolation, Rule, each_resource, of_type, waiver
from ._zones import managed_zones

PROXYABLE = ("A", "AAAA", "CNAME")
WILDCARD_RISK = ("A", "AAAA", "CNAME", "MX", "SRV")
TUNNEL_RECORD = "tunnel.hostname"


def _proxied(args: Any, report: ReportViolation) -> None:
    """Every A, AAAA and CNAME record is proxied through Cloudflare.

    Declare the record with proxied: true (a tunnel CNAME works only proxied); a DNS-only record
    exposes the origin and skips the zone's WAF, rate limits and TLS settings."""
    if args.resource_type == DNS_RECORD and args.props.get("type") in PROXYABLE and args.props.get("proxied") is not True:
        report(f"{args.props.get('type')} record {args.props.get('name')} is DNS-only (proxied is not true)")


def _no_wildcard(args: Any, report: ReportViolation) -> None:
    """No A, AAAA, CNAME, MX or SRV record is a wildcard.

    Declare each hostname; a wildcard record answers for names nobody reviewed."""
    if args.resource_type == DNS_RECORD and args.props.get("type") in WILDCARD_RISK and str(
            args.props.get("name") or "").startswith("*"):
        report(f"{args.props.get('type')} record {args.props.get('name')} is a wildcard")


def _caa_names_a_ca(record: Any) -> bool:
    data = record.props.get("data") or {}
    tag, value = data.get("tag"), data.get("value")
    if tag is None:  # the record's content form: `0 issue "letsencrypt.org"`
        match = re.match(r'\s*\d+\s+(\w+)\s+"?([^"]*)"?', str(record.props.get("content") or ""))
        tag, value = (match.group(1), match.group(2)) if match else (None, None)
    return str(tag).lower() in ("issue", "issuewild") and bool(str(value or "").strip())


def _caa(args: Any, report: ReportViolation) -> None:
    """Every managed zone has a CAA record naming the certificate authorities that may issue for it.

    Declare CAA records (DnsRecord type CAA, data {flags: 0, tag: issue, value: <ca>}) for the
    authorities Universal SSL and any advanced certificate use; Cloudflare adds its own CAs'
    records once one exists. Until the program declares them, the stack waives `undeclared`."""
    for zone in managed_zones(args, report, "CAA records"):
        records = [r for r in of_type(args.resources, DNS_RECORD) if r.props.get("zoneId") == zone
                   and r.props.get("type") == "CAA"]
        for record in records:
            with each_resource(report, record.urn):
                if not _caa_names_a_ca(record):
                    report(f"CAA record {record.name} has no issue/issuewild tag naming an authority", record.urn)
        if not records and not waiver(args, "undeclared"):
            report(f"zone {zone} has no CAA record: any certificate authority may issue for it", None)


RULES = [
    # The program's DNS records are the tunnel's (tunnel.hostname); CAA records have no key yet: the zone's.
    Rule("CF-DNS-002", "dns-records-proxied", Severity.HIGH, C.SSL_VALID, _proxied, key=("<entry>", TUNNEL_RECORD)),
    Rule("CF-DNS-003", "dns-no-wildcard-records", Severity.MEDIUM, C.PRIMARY_DOMAIN, _no_wildcard,
         key=("<entry>", TUNNEL_RECORD)),
    Rule("CF-DNS-004", "zone-caa-records", Severity.MEDIUM, C.CAA, _caa, scope="stack",
         config={"requireManagedZone": REQUIRE_ZONE_SCHEMA}, waivable=("undeclared",), key="zone"),
]
