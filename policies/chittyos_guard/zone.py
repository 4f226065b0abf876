"""Zone-wide controls as one table: TLS, HSTS, HTTPS, DNSSEC, certificates, bots, uploads, HTTP/3,
compression, and the security response headers.

Each row is data: rule id and name, severity, checklist item, where the value lives (a
`ZoneSetting`, `ZoneDnssec`, `UniversalSslSetting`, `BotManagement`, or a response header set
by the `http_response_headers_transform` ruleset), what it must be, what an undeclared value
means, and the stack-file key that sets it (`key`, where findings point). One check walks every row
over every managed zone (`_zones.managed_zones`). An undeclared value is either Cloudflare's default (checked as if
declared, e.g. Universal SSL is on unless turned off) or a finding, which a stack may waive
with a reason (`waivers.undeclared`) until the program declares it.

The rows cover Prowler's Cloudflare zone checks too: zone_min_tls_version_secure,
zone_tls_1_3_enabled, zone_ssl_strict, zone_https_redirect_enabled,
zone_automatic_https_rewrites_enabled, zone_hsts_enabled, zone_universal_ssl_enabled,
zone_dnssec_enabled and zone_bot_fight_mode_enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from pulumi_policy import Severity

from . import checklist as C
from ._expr import applies
from ._hosts import worker_sites, zone_of
from ._rule import (
    BOT_MANAGEMENT, REQUIRE_ZONE_SCHEMA, RULESET, UNIVERSAL_SSL, ZONE_DNSSEC, ReportViolation, Rule, config,
    each_resource, items, number, of_type, shown, waiver,
)
from ._zones import managed_zones, zone_settings

MISSING = object()
Reading = tuple[str, Any, Any]  # (what was read, its value or MISSING, the resource to blame)


# ---- where a value lives -------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    label: str
    read: Callable[[Any, Any, str], Iterator[Reading]]  # (args, report, zone) -> readings


def setting(setting_id: str) -> Source:
    def read(args: Any, report: ReportViolation, zone: str) -> Iterator[Reading]:
        found = zone_settings(args, zone, setting_id)
        if not found:
            yield f"zone {zone}", MISSING, None
        for r in found:
            yield f"ZoneSetting {r.name}", r.props.get("value"), r
    return Source(f"ZoneSetting '{setting_id}'", read)


def zone_resource(resource_type: str, prop: str) -> Source:
    kind = resource_type.rsplit(":", 1)[-1]

    def read(args: Any, report: ReportViolation, zone: str) -> Iterator[Reading]:
        found = [r for r in of_type(args.resources, resource_type) if zone_of(r) == zone]
        if not found:
            yield f"zone {zone}", MISSING, None
        for r in found:
            yield f"{kind} {r.name}", r.props.get(prop), r
    return Source(f"{kind}.{prop}", read)


def header(name: str) -> Source:
    """The value a response-header rule gives `name` at each site of this stack's Workers in the
    zone: the rule must be enabled, set (or add) the header, and match every path of the site."""
    def read(args: Any, report: ReportViolation, zone: str) -> Iterator[Reading]:
        rules = [(ruleset, rule) for ruleset in of_type(args.resources, RULESET)
                 if zone_of(ruleset) == zone and ruleset.props.get("phase") == "http_response_headers_transform"
                 for rule in items(ruleset.props.get("rules"))
                 if rule.get("enabled") is not False and _sets(rule, name)]
        sites = [s for s in worker_sites(args, report) if zone_of(s.resource) == zone] or [None]
        for site in sites:
            covering = [(ruleset, rule) for ruleset, rule in rules if site is None or all(
                applies(rule.get("expression"), site.host, site.path(sample)) is True for sample in ("/", "/any/page"))]
            where = f"responses of {site.host}{site.prefix}" if site else f"zone {zone}"
            if not covering:
                yield where, MISSING, rules[0][0] if rules else None
            for ruleset, rule in covering:
                value = ((rule.get("actionParameters") or {}).get("headers") or {})[_key(rule, name)]
                yield f"{where} (Ruleset {ruleset.name})", value.get("value"), ruleset
    return Source(f"response header {name}", read)


def _key(rule: Any, name: str) -> str:
    headers = (rule.get("actionParameters") or {}).get("headers") or {}
    return next((k for k in headers if k.lower() == name.lower()), name)


def _sets(rule: Any, name: str) -> bool:
    headers = (rule.get("actionParameters") or {}).get("headers") or {}
    entry = headers.get(_key(rule, name))
    return rule.get("action") == "rewrite" and bool(entry) and entry.get("operation") in ("set", "add")


# ---- what a value must be ------------------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    label: str
    problem: Callable[[Any, Any], str | None]  # (value, policy config) -> problem or None
    config: dict[str, dict[str, Any]]


def one_of(*allowed: Any) -> Expect:
    def problem(value: Any, cfg: Any) -> str | None:
        found = value.lower() if isinstance(value, str) else value
        return None if found in allowed else f"is {shown(value)}; it must be {' or '.join(map(repr, allowed))}"
    return Expect(f"is {' or '.join(map(str, allowed))}", problem, {})


def version_at_least(key: str, default: str) -> Expect:
    def problem(value: Any, cfg: Any) -> str | None:
        wanted = str(cfg.get(key, default))
        ok = isinstance(value, str) and value.replace(".", "").isdigit() and float(value) >= float(wanted)
        return None if ok else f"is {shown(value)}; it must be {wanted!r} or newer"
    schema = {"type": "string", "enum": [default], "default": default,
              "description": "Oldest TLS version the zone may accept (nothing is newer to tighten to)."}
    return Expect(f"is at least {default}", problem, {key: schema})


def at_most(key: str, default: float, unit: str) -> Expect:
    def problem(value: Any, cfg: Any) -> str | None:
        limit = cfg.get(key, default)
        found = number(value)
        return None if found is not None and found <= limit else f"is {shown(value)}; it must be at most {limit} {unit}"
    schema = {"type": "number", "default": default, "maximum": default, "description": f"Largest value allowed, in {unit}."}
    return Expect(f"is at most {default} {unit}", problem, {key: schema})


def hsts(key: str, default: int) -> Expect:
    def problem(value: Any, cfg: Any) -> str | None:
        if not hasattr(value, "get"):
            return f"is {shown(value)}; it needs strict_transport_security"
        if "strictTransportSecurity" in value:
            return ("uses camelCase keys (strictTransportSecurity); ZoneSetting.value is sent verbatim, so use the "
                    "API's snake_case keys (strict_transport_security, max_age, ...)")
        sts = value.get("strict_transport_security") or {}
        age, floor = number(sts.get("max_age")), cfg.get(key, default)
        problems = [f"{flag} must be true" for flag in ("enabled", "include_subdomains", "preload")
                    if sts.get(flag) is not True]
        if age is None or age < floor:
            problems.append(f"max_age is {sts.get('max_age')!r}; it must be at least {floor}")
        return "; ".join(problems) or None
    schema = {"type": "integer", "default": default, "minimum": default,
              "description": "Shortest HSTS max-age allowed, in seconds."}
    return Expect("sends HSTS with subdomains and preload", problem, {key: schema})


def contains(*needles: str) -> Expect:
    def problem(value: Any, cfg: Any) -> str | None:
        text = str(value or "").lower()
        missing = [n for n in needles if n.lower() not in text]
        return f"is {shown(value)}; it lacks {', '.join(missing)}" if missing else None
    return Expect(f"contains {', '.join(needles)}", problem, {})


# ---- the table -----------------------------------------------------------------------------

REQUIRED = "required"


@dataclass(frozen=True)
class Control:
    id: str
    name: str
    severity: Severity
    checklist: str
    source: Source
    expect: Expect
    absent: Any  # REQUIRED, or Cloudflare's default value for an undeclared setting
    key: str  # the stack-file key that sets it, or the section it would be declared in
    what_to_set: str = ""  # the remediation's words when they are not the key itself

    @property
    def where(self) -> str:
        return self.what_to_set or self.key

    def check(self, args: Any, report: ReportViolation) -> None:
        cfg = config(args)
        for zone in managed_zones(args, report, self.source.label):
            for what, value, resource in self.source.read(args, report, zone):
                urn = resource.urn if resource is not None else None
                with each_resource(report, urn):
                    if value is MISSING and self.absent is REQUIRED:
                        if not waiver(args, "undeclared"):
                            report(f"{what}: no {self.source.label} is declared, so it is not enforced; "
                                   f"declare it ({self.where})", urn)
                        continue
                    problem = self.expect.problem(self.absent if value is MISSING else value, cfg)
                    if problem:
                        shown = f"{self.source.label} (undeclared: Cloudflare's default)" if value is MISSING else \
                            self.source.label
                        report(f"{what}: {shown} {problem}; set it in {self.where}", urn)

    def rule(self) -> Rule:
        title = f"Every managed zone: {self.source.label} {self.expect.label}."
        remediation = (f"Declare it with {self.where} (it {self.expect.label}); the production stack owns the zone's "
                       "settings (requireManagedZone). A stricter value may be set in policies/config/<stack>.json.")
        return Rule(self.id, self.name, self.severity, self.checklist, self.check, scope="stack",
                    config={"requireManagedZone": REQUIRE_ZONE_SCHEMA, **self.expect.config}, title=title,
                    remediation=remediation, waivable=("undeclared",) if self.absent is REQUIRED else (), key=self.key)


H, M, CRIT = Severity.HIGH, Severity.MEDIUM, Severity.CRITICAL
HSTS_ONE_YEAR = 31536000  # the preload list's minimum
EDGE = "edgeSecurity"
TLS = f"{EDGE}.tls"
HEADERS = f"{EDGE}.securityHeaders"

CONTROLS = (
    Control("CF-TLS-001", "zone-min-tls-1-3", H, C.SSL_VALID, setting("min_tls_version"), version_at_least("minTlsVersion", "1.3"), REQUIRED, f"{TLS}.minTlsVersion"),
    Control("CF-TLS-002", "zone-ssl-strict", H, C.SSL_VALID, setting("ssl"), one_of("strict", "origin_pull"), REQUIRED, f"{TLS}.sslMode", f"{TLS}.sslMode: strict"),
    Control("CF-TLS-003", "zone-always-use-https", H, C.HSTS_ENABLED, setting("always_use_https"), one_of("on"), REQUIRED, f"{TLS}.alwaysUseHttps"),
    Control("CF-TLS-004", "zone-hsts-preload", H, C.HSTS_PRELOAD, setting("security_header"), hsts("minHstsMaxAge", HSTS_ONE_YEAR), REQUIRED, f"{TLS}.hsts"),
    Control("CF-TLS-005", "zone-tls-1-3-on", H, C.SSL_VALID, setting("tls_1_3"), one_of("on", "zrt"), REQUIRED, f"{TLS}.tls13"),
    Control("CF-TLS-006", "zone-automatic-https-rewrites", M, C.HSTS_ENABLED, setting("automatic_https_rewrites"), one_of("on"), REQUIRED, f"{TLS}.automaticHttpsRewrites"),
    Control("CF-TLS-007", "zone-universal-ssl-on", H, C.SSL_VALID, zone_resource(UNIVERSAL_SSL, "enabled"), one_of(True), True, TLS, "UniversalSslSetting enabled: true"),
    Control("CF-DNS-001", "zone-dnssec-active", H, C.SSL_VALID, zone_resource(ZONE_DNSSEC, "status"), one_of("active"), REQUIRED, f"{TLS}.dnssec"),
    Control("CF-BOT-001", "zone-bot-fight-mode-on", M, C.API_ABUSE, zone_resource(BOT_MANAGEMENT, "fightMode"), one_of(True), REQUIRED, EDGE, "BotManagement fight_mode: true"),
    Control("CF-WAF-006", "zone-upload-size-limited", M, C.PAYLOAD_LIMITS, setting("max_upload"), at_most("maxUploadMb", 100, "MB"), 100, EDGE, "ZoneSetting max_upload"),
    Control("CF-PERF-001", "zone-http3-on", M, C.HTTP3, setting("http3"), one_of("on"), REQUIRED, f"{TLS}.http3"),
    Control("CF-PERF-002", "zone-http2-on", M, C.HTTP3, setting("http2"), one_of("on"), "on", TLS, "ZoneSetting http2"),
    Control("CF-PERF-003", "zone-brotli-on", M, C.BROTLI, setting("brotli"), one_of("on"), "on", EDGE, "ZoneSetting brotli"),
    Control("CF-HDR-001", "header-content-security-policy", H, C.CSP, header("Content-Security-Policy"), contains("default-src", "frame-ancestors"), REQUIRED, f"{HEADERS}.contentSecurityPolicy"),
    Control("CF-HDR-002", "header-x-frame-options", H, C.FRAME_OPTIONS, header("X-Frame-Options"), one_of("deny", "sameorigin"), REQUIRED, f"{HEADERS}.xFrameOptions"),
    Control("CF-HDR-003", "header-x-content-type-options", H, C.CONTENT_TYPE_OPTIONS, header("X-Content-Type-Options"), one_of("nosniff"), REQUIRED, f"{HEADERS}.xContentTypeOptions"),
    Control("CF-HDR-004", "header-referrer-policy", M, C.REFERRER_POLICY, header("Referrer-Policy"), one_of("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"), REQUIRED, f"{HEADERS}.referrerPolicy"),
)

RULES = [control.rule() for control in CONTROLS]
