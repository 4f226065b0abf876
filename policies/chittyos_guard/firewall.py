"""The zone's firewall as three tables: managed WAF rulesets, the custom WAF rules the optimization
report asks for, and rate limits per endpoint; plus one rule that keeps cache rules from sharing
per-user responses.

Rules are read where they take effect, whatever their host scoping: the expression is evaluated
(`_expr`) for requests to the sites this stack's Workers serve (custom domains, and routes under
their path prefix). A limit counts only when it is enforced on every request of the endpoint (the
report's cookie bypass aside): `log` is not a limit, nor a rate above the endpoint's ceiling, nor
a count that is not per client, nor a rule that only some clients meet (e.g. non-AI user agents).
Coverage is per Worker: a limit or WAF rule that holds on one site of a Worker must hold on all of
them (every custom domain, and every route under its prefix), or the others are a side door.

Prowler's zone_waf_enabled, zone_waf_owasp_ruleset_enabled and zone_rate_limiting_enabled are
covered by CF-WAF-001, CF-WAF-002 and the CF-RL rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from pulumi_policy import Severity

from . import checklist as C
from ._expr import Requests, mentions, reaches
from ._hosts import Site, worker_sites, zone_of
from ._rule import REQUIRE_ZONE_SCHEMA, ReportViolation, Rule, config, each_resource, items, number, waiver
from ._zones import managed_zones, zone_rulesets

ENFORCING = ("block", "challenge", "js_challenge", "managed_challenge")
CHALLENGES = ("challenge", "js_challenge", "managed_challenge")
_ZONE = {"requireManagedZone": REQUIRE_ZONE_SCHEMA}
# The stack-file keys the rules' fixes change.
WAF = "edgeSecurity.wafCustomRules"
MANAGED_KEY = "edgeSecurity.managedRulesets"
RATE_LIMITS = "edgeSecurity.rateLimits"
CACHE_RULES = "edgeSecurity.cacheRules"


def _rules_in(args: Any, report: ReportViolation, zone: str, phases: tuple[str, ...]) -> Iterator[tuple[Any, Any]]:
    """(ruleset, rule) for every enabled rule of the zone's rulesets in `phases`."""
    for phase in phases:
        for ruleset in zone_rulesets(args, zone, phase):
            with each_resource(report, ruleset.urn):
                for rule in items(ruleset.props.get("rules")):
                    if rule.get("enabled") is not False:
                        yield ruleset, rule


def _sites(args: Any, report: ReportViolation, zone: str) -> list[Site]:
    """The sites of this stack's Workers in the zone (a stand-in site when there are none)."""
    return [s for s in worker_sites(args, report) if zone_of(s.resource) == zone] or [Site("", "/", None)]


def _label(site: Site) -> str:
    return f"{site.host}{site.prefix}"


def _uncovered(sites: list[Site], covered: list[bool]) -> list[int]:
    """The indexes of the sites left out by rules that cover another site of the same Worker: a limit
    on a custom domain that misses the Worker's route (or the reverse) is a side door to the same API."""
    workers = {site.worker for site, hit in zip(sites, covered) if hit}
    return [i for i, (site, hit) in enumerate(zip(sites, covered)) if not hit and site.worker in workers]


def _name(rule: Any) -> str:
    return str(rule.get("ref") or rule.get("description") or "rule")


def _first_urn(args: Any, zone: str, phases: tuple[str, ...]) -> str | None:
    found = [r for phase in phases for r in zone_rulesets(args, zone, phase)]
    return found[0].urn if found else None


# ---- managed rulesets ----------------------------------------------------------------------

@dataclass(frozen=True)
class ManagedRuleset:
    id: str
    name: str
    severity: Severity
    checklist: str
    ruleset_id: str
    label: str

    def check(self, args: Any, report: ReportViolation) -> None:
        phases = ("http_request_firewall_managed",)
        for zone in managed_zones(args, report, f"the {self.label}"):
            problems, running = [], []
            for _, rule in _rules_in(args, report, zone, phases):
                params = rule.get("actionParameters") or {}
                if rule.get("action") != "execute" or params.get("id") != self.ruleset_id:
                    continue
                overrides = params.get("overrides") or {}
                narrower = [*items(overrides.get("categories")), *items(overrides.get("rules"))]
                logged = [str(o.get("category") or o.get("id")) for o in narrower if o.get("action") == "log"]
                if overrides.get("enabled") is False:
                    problems.append(f"{_name(rule)} turns every rule off (overrides.enabled false)")
                elif overrides.get("action") == "log":
                    problems.append(f"{_name(rule)} runs it in log mode (overrides.action log): nothing is blocked")
                elif logged:
                    problems.append(f"{_name(rule)} only logs {', '.join(logged)}")
                else:
                    running.append(rule)
            bare = [_label(site) for site in _sites(args, report, zone)
                    if not any(reaches(r.get("expression"), site.host, site.path("/")) for r in running)]
            if bare or problems:
                detail = "; ".join(problems) or f"no enabled rule executes it for {', '.join(bare)}"
                report(f"zone {zone}: the {self.label} ({self.ruleset_id}) is not enforcing: {detail}; list it in "
                       f"{MANAGED_KEY} without log or disabling overrides",
                       _first_urn(args, zone, phases))

    def rule(self) -> Rule:
        return Rule(self.id, self.name, self.severity, self.checklist, self.check, scope="stack", config=_ZONE,
                    key=MANAGED_KEY,
                    title=f"The {self.label} runs, enabled and enforcing (not in log mode), on every managed zone.",
                    remediation=f"List the {self.label} ({self.ruleset_id}) in {MANAGED_KEY}; never "
                                "override it with enabled: false or action: log.")


# ---- custom WAF rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class CustomRule:
    id: str
    name: str
    severity: Severity
    checklist: str
    path: str  # a request path the rule must apply to
    needles: tuple[str, ...]  # what its expression must test (fields, header names, methods)
    actions: tuple[str, ...]
    what: str
    key: str  # the stack-file key that declares the rule

    def check(self, args: Any, report: ReportViolation) -> None:
        phases = ("http_request_firewall_custom", "http_ratelimit")
        for zone in managed_zones(args, report, self.what):
            sites = _sites(args, report, zone)
            testing = [rule for _, rule in _rules_in(args, report, zone, phases)
                       if mentions(rule.get("expression"), *self.needles)]
            requests = Requests((site.host, site.path(self.path)) for site in sites)
            reached: list[list[Any]] = [[] for _ in sites]  # per site, the rules reaching it, in rule order
            for rule in testing:
                for i in requests.reaching(rule.get("expression")):
                    reached[i].append(rule)
            held = [any(rule.get("action") in self.actions for rule in rules) for rules in reached]
            if not any(held):
                candidates = list({id(rule): rule for rules in reached for rule in rules}.values())
                near = "; ".join(f"{_name(r)} has action {r.get('action')!r}" for r in candidates)
                near = near or f"none tests {', '.join(self.needles)}"
                report(f"zone {zone}: no enabled rule {self.what} on {self.path} ({near}); add it to {self.key} "
                       f"with action {' or '.join(self.actions)}", _first_urn(args, zone, phases))
            elif missing := _uncovered(sites, held):
                report(f"zone {zone}: the rule that {self.what} on {self.path} is not applied on "
                       f"{', '.join(_label(sites[i]) for i in missing)}, a site of the same Worker; scope it in {self.key} "
                       "to every custom domain and route of the service", _first_urn(args, zone, phases))

    def rule(self) -> Rule:
        return Rule(self.id, self.name, self.severity, self.checklist, self.check, scope="stack", config=_ZONE,
                    key=self.key, title=f"A WAF rule {self.what} ({self.path}, action {'/'.join(self.actions)}).",
                    remediation=f"Declare the rule in {self.key}: an expression matching {self.path} that tests "
                                f"{', '.join(self.needles)}, with action {' or '.join(self.actions)}.")


# ---- rate limits per endpoint --------------------------------------------------------------

def per_minute(rule: Any) -> float | None:
    limit = rule.get("ratelimit") or {}
    requests, period = number(limit.get("requestsPerPeriod")), number(limit.get("period"))
    return requests * 60.0 / period if requests is not None and period else None


@dataclass(frozen=True)
class Endpoint:
    id: str
    name: str
    severity: Severity
    checklist: str
    path: str  # the report's endpoint, as a request path every covering rule must match
    ceiling: int  # the report's requests per minute per client

    def check(self, args: Any, report: ReportViolation) -> None:
        cfg = config(args)
        ceiling, paths = cfg.get("maxRequestsPerMinute", self.ceiling), items(cfg.get("paths")) or [self.path]
        waived = waiver(args, "undeclared")
        for zone in managed_zones(args, report, "rate limits"):
            sites = _sites(args, report, zone)
            for path in paths:
                held, problems = [False] * len(sites), []  # problems: (sites, what)
                requests = Requests((s.host, s.path(path)) for s in sites)
                for _, rule in _rules_in(args, report, zone, ("http_ratelimit",)):
                    expression = rule.get("expression")
                    at = requests.always_matching(expression, ignore=BYPASSES)
                    if not at:
                        continue
                    if waived and not any(f'"{seen}' in str(expression) for seen in {sites[i].path(path) for i in at}):
                        continue  # the waiver: no limit of its own for this path; a broader one is not judged here
                    rate, counted = per_minute(rule), items((rule.get("ratelimit") or {}).get("characteristics"))
                    if rule.get("action") not in ENFORCING:
                        problems.append((at, f"{_name(rule)}: action {rule.get('action')!r} does not stop clients"))
                    elif "ip.src" not in counted:
                        problems.append((at, f"{_name(rule)}: counts per {list(counted)}, not per client (ip.src)"))
                    elif rate is None or rate > ceiling:
                        problems.append((at, f"{_name(rule)}: allows {rate} requests/minute, above {ceiling}"))
                    else:
                        for i in at:
                            held[i] = True
                if not any(held) and (problems or not waived):
                    detail = "; ".join(what for _, what in problems) or "no rule's expression matches every request of it"
                    report(f"zone {zone}: no enabled rate limit holds {path} to {ceiling} requests/minute per client "
                           f"({detail}); add one to {RATE_LIMITS}",
                           _first_urn(args, zone, ("http_ratelimit",)))
                elif missing := _uncovered(sites, held):
                    there = [what for at, what in problems if set(at) & set(missing)]
                    report(f"zone {zone}: {path} is held to {ceiling} requests/minute per client on "
                           f"{', '.join(_label(s) for s, hit in zip(sites, held) if hit)} but not on "
                           f"{', '.join(_label(sites[i]) + path.lstrip('/') for i in missing)}, the same Worker "
                           f"({'; '.join(there) or 'no rule matches every request there'}); scope the limit in "
                           f"{RATE_LIMITS} to every custom domain and route of the service",
                           _first_urn(args, zone, ("http_ratelimit",)))

    def rule(self) -> Rule:
        schema = {"maxRequestsPerMinute": {"type": "number", "default": self.ceiling, "maximum": self.ceiling,
                                           "description": "Highest rate per client (the optimization report's value)."},
                  "paths": {"type": "array", "items": {"type": "string"}, "default": [self.path],
                            "description": "Request paths the limit must cover."}}
        return Rule(self.id, self.name, self.severity, self.checklist, self.check, scope="stack",
                    config={**_ZONE, **schema}, waivable=("undeclared",), key=RATE_LIMITS,
                    title=f"{self.path} is rate-limited per client, enforced, at {self.ceiling} requests/minute or less.",
                    remediation=f"Add an {RATE_LIMITS} entry whose expression matches {self.path}, counted "
                                f"per cf.colo.id and ip.src, action block or a challenge (log is not a limit), at most "
                                f"{self.ceiling} requests per minute.")


# ---- cache rules never share a per-user response -------------------------------------------

def _per_user_key(rule: Any) -> bool:
    custom = (((rule.get("actionParameters") or {}).get("cacheKey") or {}).get("customKey") or {})
    return bool(custom.get("user") or custom.get("cookie") or custom.get("header"))


def _private_paths(args: Any, report: ReportViolation) -> None:
    """Cache rules never cache a private path (sessions, auth, WebSocket) under a shared key.

    Remove the cache rule for the path, or key it per user (cacheKey.customKey cookie, header or
    user); the Workers cache their own responses (Cache API), zone cache rules do not apply to
    what a Worker generates."""
    private = items(config(args).get("privatePaths")) or PRIVATE_PATHS
    for zone in managed_zones(args, report, "cache rules"):
        sites = _sites(args, report, zone)
        requests = {path: Requests((s.host, s.path(path)) for s in sites) for path in private}
        for ruleset, rule in _rules_in(args, report, zone, ("http_request_cache_settings",)):
            if (rule.get("actionParameters") or {}).get("cache") is not True or _per_user_key(rule):
                continue
            hit = [path for path in private if requests[path].reaching(rule.get("expression"))]
            if hit:
                report(f"cache rule {_name(rule)} caches {', '.join(hit)} under a shared key: one user's response "
                       "could be served to another", ruleset.urn)


PRIVATE_PATHS = ["/api/sessions/", "/api/auth/", "/ws"]
BYPASSES = ("http.cookie",)  # the report's bypass_on_cookie: a limit with it still counts
AI_AGENTS = ("http.user_agent",)
H, CRIT = Severity.HIGH, Severity.CRITICAL

MANAGED = (
    ManagedRuleset("CF-WAF-001", "zone-managed-waf-on", CRIT, C.SQL_INJECTION, "efb7b8c949ac4650a09736fc376e9aee", "Cloudflare Managed Ruleset"),
    ManagedRuleset("CF-WAF-002", "zone-owasp-ruleset-on", CRIT, C.XSS, "4814384a9e5d4991b9815dcfc25d2f1f", "Cloudflare OWASP Core Ruleset"),
)
CUSTOM = (
    CustomRule("CF-WAF-003", "waf-ai-platform-verification", H, C.AI_VERIFICATION, "/api/", AI_AGENTS, CHALLENGES, "challenges API clients that are not AI platforms", WAF),
    CustomRule("CF-WAF-004", "waf-session-integrity", H, C.SESSION_HIJACKING, "/api/sessions/", ("authorization",), ("block",), "blocks session access without an Authorization header", WAF),
    CustomRule("CF-WAF-005", "waf-sync-security", H, C.SYNC_SECURITY, "/api/projects/sync", ("origin", "POST"), CHALLENGES + ("block",), "challenges sync POSTs from other origins", WAF),
)
ENDPOINTS = (
    Endpoint("CF-RL-001", "auth-endpoints-rate-limited", H, C.ENDPOINT_LIMITS, "/api/auth/", 60),
    Endpoint("CF-RL-002", "suggestions-rate-limited", H, C.ENDPOINT_LIMITS, "/api/projects/suggestions", 300),
    Endpoint("CF-RL-003", "sessions-rate-limited", H, C.ENDPOINT_LIMITS, "/api/sessions/", 500),
    Endpoint("CF-RL-004", "websocket-rate-limited", H, C.WS_CONNECTION_LIMITS, "/ws", 25),
    Endpoint("CF-RL-005", "api-rate-limited", H, C.ENDPOINT_LIMITS, "/api/", 2000),
    Endpoint("CF-RL-006", "api-abuse-rate-limited", H, C.API_ABUSE, "/api/", 1000),
)

RULES = [
    *(row.rule() for row in MANAGED),
    *(row.rule() for row in CUSTOM),
    *(row.rule() for row in ENDPOINTS),
    Rule("CF-CACHE-001", "cache-rules-never-share-private-paths", CRIT, C.CACHE_KEYS, _private_paths, scope="stack",
         key=CACHE_RULES,
         config={**_ZONE, "privatePaths": {"type": "array", "items": {"type": "string"}, "default": PRIVATE_PATHS,
                                           "description": "Paths whose responses belong to one user."}}),
]
