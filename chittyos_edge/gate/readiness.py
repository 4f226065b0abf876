"""The production readiness checklist, item by item: the rules that enforce each item a program can
check, with their status in one stack, and who checks the rest by hand.

Statuses, from worst: `FAIL` (a mandatory finding), `disabled` (a rule of the item is off for
this stack, or checks a zone another stack owns), `waived` (the stack's policy config waives a
clause, with its reason), `advisory` (a rule of the item only warns here), `pass` (every rule of
the item is mandatory and passes), and `manual` (people check it; the row says who). An item is never `pass` on the strength of a
setting alone: every checkable item names the rules that enforce it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from policies.chittyos_guard import RULES, checklist as C

Plan = dict[str, Any]
STATUSES = ("FAIL", "disabled", "waived", "advisory", "pass", "manual")
# --fail-on VALUE: the statuses that make `readiness` exit 1.
FAIL_ON = {"fail": ("FAIL",), "advisory": ("FAIL", "advisory"), "waived": ("FAIL", "advisory", "waived"),
           "not-pass": ("FAIL", "advisory", "waived", "disabled")}

# Who checks by hand: the sign-off roles of the checklist.
DEV, OPS, SEC, QA = "Lead Developer", "DevOps Engineer", "Security Engineer", "QA Engineer"
PERF = "DevOps Engineer (load tests)"


@dataclass(frozen=True)
class Item:
    key: str  # the checklist item (policies/chittyos_guard/checklist.py)
    rules: tuple[str, ...] = ()
    manual: str = ""  # who checks it by hand, and what they check
    part: str = ""  # what this row covers when an item has a checkable and a manual part

    @property
    def label(self) -> str:
        return f"{self.key} ({self.part})" if self.part else self.key


def _m(key: str, who: str, what: str) -> Item:
    return Item(key, manual=f"{who}: {what}")


CHECKLIST: tuple[Item, ...] = (
    Item(C.WORKER_LIMITS, ("CF-WRK-002",), part="CPU limits; memory is fixed at 128 MB and has no setting"),
    Item(C.WORKER_VARS, ("CF-ENV-006",)),
    Item(C.CUSTOM_DOMAINS, ("CF-WRK-005", "CF-ENV-005", "CF-WRK-003")),
    Item(C.COMPAT_FLAGS, ("CF-WRK-001",)),
    Item(C.KV_IDS, ("CF-ENV-001", "CF-ENV-002")),
    _m(C.KV_PERFORMANCE, DEV, "KV has no per-namespace performance settings; access patterns live in the code"),
    _m(C.KV_RETENTION, DEV, "KV retention is a TTL per write, set in the Workers' code"),
    _m(C.KV_BACKUP, OPS, "no Cloudflare setting backs up KV: the daily backup workflow runs `chittyos-edge backup` into the backups bucket; confirm it runs (README, Backups and restore)"),
    Item(C.R2_LIFECYCLE, ("CF-R2-001",)),
    Item(C.R2_CORS, ("CF-CORS-001", "CF-CORS-003")),
    Item(C.R2_PUBLIC, ("CF-R2-002",)),
    Item(C.R2_ARCHIVAL, ("CF-R2-003",)),
    Item(C.DO_CLASSES, ("CF-DO-002",)),
    _m(C.DO_GEOGRAPHY, DEV, "Durable Objects have no placement setting; a location hint is an option in the code"),
    _m(C.DO_SCALING, DEV, "Durable Objects scale per object; there is nothing to configure"),
    Item(C.DO_MIGRATIONS, ("CF-DO-001", "CF-DO-003")),
    Item(C.AE_DATASETS, ("CF-AE-001",)),
    _m(C.AE_SAMPLING, DEV, "Analytics Engine samples when it writes, in the Workers' code"),
    _m(C.AE_RETENTION, OPS, "Analytics Engine retention is fixed by the platform"),
    _m(C.AE_DASHBOARDS, OPS, "dashboards are built and tested in the Cloudflare dashboard or Grafana"),
    Item(C.PRIMARY_DOMAIN, ("CF-WRK-005", "CF-DNS-003")),
    Item(C.SSL_VALID, ("CF-TLS-001", "CF-TLS-002", "CF-TLS-005", "CF-TLS-007", "CF-DNS-001", "CF-DNS-002"),
         part="zone TLS settings, Universal SSL, DNSSEC, proxied records"),
    _m(C.SSL_VALID, SEC, "the certificate actually served is valid (no dedicated certificate is declared)"),
    Item(C.HSTS_ENABLED, ("CF-TLS-004", "CF-TLS-003", "CF-TLS-006")),
    Item(C.CAA, ("CF-DNS-004",)),
    Item(C.API_SUBDOMAIN, ("CF-WRK-006",), part="the route; the DNS record of api.chitty.cc belongs to its owner"),
    Item(C.LOAD_BALANCING, ("CF-LB-001",)),
    _m(C.FAILOVER_TESTED, QA, "take a pool's origins down and watch traffic fail over"),
    _m(C.WS_TESTED, QA, "WebSocket connections from several regions"),
    Item(C.WS_LIMITS, ("CF-RL-004",)),
    _m(C.WS_TIMEOUTS, DEV, "idle timeouts live in the Worker and Durable Object code"),
    Item(C.CACHE_RULES, ("CF-CACHE-001",), part="no cache rule shares a private response; Workers cache in code"),
    _m(C.CACHE_INVALIDATION, DEV, "purge on deploy and on session update, from the application"),
    _m(C.CACHE_TTL, DEV, "TTLs are Worker vars (CACHE_TTL, EDGE_CACHE_TTL) the application reads"),
    Item(C.CACHE_KEYS, ("CF-CACHE-001",)),
    Item(C.COMPRESSION, ("CF-PERF-003",)),
    _m(C.MINIFICATION, DEV, "Cloudflare retired Auto Minify in 2024: minify at build time"),
    Item(C.HTTP3, ("CF-PERF-001", "CF-PERF-002")),
    Item(C.BROTLI, ("CF-PERF-003",)),
    Item(C.AI_VERIFICATION, ("CF-WAF-003",)),
    Item(C.SESSION_HIJACKING, ("CF-WAF-004",)),
    Item(C.API_ABUSE, ("CF-RL-006", "CF-BOT-001")),
    Item(C.SYNC_SECURITY, ("CF-WAF-005",)),
    Item(C.SQL_INJECTION, ("CF-WAF-001", "CF-WAF-002")),
    Item(C.XSS, ("CF-WAF-002",)),
    Item(C.PAYLOAD_LIMITS, ("CF-WAF-006",)),
    _m(C.BOMB_PROTECTION, DEV, "parse JSON/XML with depth and size limits; managed rulesets do not bound them"),
    Item(C.ENDPOINT_LIMITS, ("CF-RL-001", "CF-RL-002", "CF-RL-003", "CF-RL-005")),
    _m(C.BURST, PERF, "edge rate limits count per period, not in token buckets: burst sizes are load-tested"),
    _m(C.AI_BONUS, DEV, "no higher limit for AI platforms is declared; verified traffic is exempted in the WAF rule"),
    Item(C.WS_CONNECTION_LIMITS, ("CF-RL-004",)),
    Item(C.HSTS_PRELOAD, ("CF-TLS-004",)),
    Item(C.CSP, ("CF-HDR-001",)),
    Item(C.FRAME_OPTIONS, ("CF-HDR-002",)),
    Item(C.CONTENT_TYPE_OPTIONS, ("CF-HDR-003",)),
    Item(C.REFERRER_POLICY, ("CF-HDR-004",)),
    Item(C.CORS_ORIGINS, ("CF-CORS-001", "CF-CORS-002")),
    _m(C.CORS_PREFLIGHT, DEV, "the Workers answer OPTIONS themselves"),
    _m(C.CORS_CREDENTIALS, DEV, "Access-Control-Allow-Credentials is the Workers' response"),
    Item(C.CORS_METHODS, ("CF-CORS-003",), part="R2 CORS; the Workers' own CORS answers are the application's"),
    _m(C.JWT, DEV, "JWT handling is application code"),
    Item(C.TOKEN_EXPIRY, ("CF-TUN-006",), part="Access service tokens; API tokens are the application's"),
    _m(C.REFRESH_TOKENS, DEV, "refresh tokens are application code"),
    Item(C.API_KEYS, ("CF-SEC-001",)),
    _m(C.SESSION_ENCRYPTION, DEV, "session encryption is application code"),
    Item(C.SESSION_TIMEOUT, ("CF-TUN-005",), part="Access sessions; SESSION_TIMEOUT is read by the application"),
    Item(C.SESSION_HIJACKING_ACTIVE, ("CF-WAF-004",)),
    _m(C.CROSS_SESSION, QA, "cross-session integrity is tested against the application"),
    Item(C.HC_PRIMARY, ("CF-MON-001",)),
    Item(C.HC_API, ("CF-MON-003",)),
    Item(C.HC_WEBSOCKET, ("CF-MON-004",)),
    _m(C.HC_EXTERNAL, OPS, "ChittyID, ChittyRegistry and ChittyChat are checked by their owners' stacks"),
    _m(C.RESPONSE_TIME, OPS, "Workers analytics; the health checks have no latency threshold"),
    Item(C.ERROR_TRACKING, ("CF-WRK-004",)),
    _m(C.THROUGHPUT, OPS, "Workers analytics dashboards"),
    _m(C.RESOURCE_ALERTS, OPS, "Cloudflare has no Worker CPU or memory alert type; watch usage in analytics"),
    Item(C.PAGERDUTY, ("CF-MON-005",)),
    Item(C.SERVICE_DOWN, ("CF-MON-002",)),
    Item(C.HIGH_ERROR_RATE, ("CF-MON-007",)),
    Item(C.PERFORMANCE_DEGRADATION, ("CF-MON-009",)),
    Item(C.SLACK, ("CF-MON-006",)),
    Item(C.ELEVATED_ERROR_RATE, ("CF-MON-008",)),
    _m(C.PERFORMANCE_WARNINGS, OPS, "latency thresholds are watched in analytics"),
    _m(C.RESOURCE_WARNINGS, OPS, "usage is watched in analytics"),
    Item(C.ACCESS_CONTROL, ("CF-TUN-001", "CF-TUN-002", "CF-TUN-003", "CF-TUN-004")),
    Item(C.ERROR_SCENARIOS, ("CF-Q-001",), part="failed queue messages are kept; the error tests are QA's"),
    _m(C.KV_BACKUP_PROCEDURES, OPS, "`chittyos-edge backup` and `restore` (README, Backups and restore); rehearse a restore"),
    _m(C.R2_REPLICATION, OPS, "R2 has no replication setting: copy jobs (e.g. Super Slurper) outside this program"),
    Item(C.ANALYTICS_RETENTION, ("CF-R2-003",)),
    _m(C.CONFIG_BACKUP, OPS, "configuration is in git; the state backend keeps checkpoints and backups"),
    Item(C.BLUE_GREEN, ("CF-WRK-007",),
         part="uploaded Workers: versions and a percentage deployment, stable and canary"),
    _m(C.BLUE_GREEN, OPS, "Workers whose code is live are deployed by their own repository: use its gradual deployments"),
    _m(C.AUTO_ROLLBACK, OPS, "the deploy workflow rolls back on a failed smoke test; the error-rate and latency "
                             "triggers are alerts whose runbooks roll back (`chittyos-edge rollback`)"),
    _m(C.MANUAL_ROLLBACK, OPS, "`chittyos-edge rollback` / `flag` then `pulumi up` (README, Staged rollout and "
                               "rollback; docs/runbooks/): rehearse them in staging"),
    Item(C.DATA_ROLLBACK, ("CF-DATA-001", "CF-DATA-002", "CF-DATA-003"), part="stores protected, retained and never deleted by a change"),
    _m(C.DATA_ROLLBACK, OPS, "restore procedures written (README, Backups and restore: D1 Time Travel, backup archives; R2 has none) and rehearsed"),
    Item(C.BUDGET_ALERTS, ("CF-MON-010",)),
    _m(C.USAGE_TRACKING, OPS, "usage is tracked in Cloudflare's billing and analytics"),
    Item(C.STAGING_VALIDATED, ("CF-ENV-002", "CF-ENV-003", "CF-ENV-004", "CF-ENV-005"),
         part="separated from production, and adopting what runs instead of creating it again"),
    _m(C.STAGING_VALIDATED, QA, "the staging test run (smoke, load and integration tests)"),
    Item(C.PRODUCTION_SECRETS, ("CF-SEC-001",)),
    _m("Performance Validation (all items)", PERF, "load and latency tests against the deployed estate"),
    _m("Integration Validation (all items)", QA, "end-to-end tests with Claude, ChatGPT and the ChittyOS services"),
    _m("Testing Validation > Automated Testing Suite, Penetration Testing (other items)", SEC, "coverage, assessment"),
    _m("Business Continuity > Disaster Recovery Plan, Incident Response Plan (all items)", OPS, "rehearsed procedures"),
    _m("Documentation and Training (all items)", DEV, "documentation review and team training"),
    _m("Performance Benchmarks, Cost Optimization Validation, Success Metrics (other items)", OPS, "measured later"),
    _m("Deployment Execution Plan (other items)", OPS, "the deployment day's steps"),
    _m("Sign-off Requirements (all items)", "each role named there", "sign-offs by people"),
    _m("Final Go/No-Go Criteria (all items)", "Engineering Manager", "a decision by people, informed by this report"),
)


def checklist_keys() -> set[str]:
    """The items rules may name: every checkable item of the checklist."""
    return {item.key for item in CHECKLIST if item.rules}


def _levels(stack: str, project: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """rule id -> (enforcement level, reconciled properties) in this stack's policy config."""
    from . import policy_config
    from .client import PolicyInfo
    from .gate_rules import GATE_RULES

    infos = [PolicyInfo(name=r.name, description=r.description, enforcement="mandatory", severity="", remediation="",
                        tags=(r.id,), checklist=r.checklist, kind=r.scope, config_schema=dict(r.schema),
                        required=r.required) for r in RULES]
    document = policy_config.load(stack, project.policy_config_dir)
    where = str(policy_config.config_path(stack, project.policy_config_dir))
    reconciled = policy_config.reconcile(infos, document, where)
    levels = {info.rule_id: reconciled[info.name] for info in infos}
    gate_levels = policy_config.gate_levels(stack, project.policy_config_dir)
    for rule in GATE_RULES:
        levels[rule.id] = (gate_levels[rule.name], {})
    return levels


def _row(item: Item, stack: str, findings: list[Any], levels: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, str]:
    if item.manual:
        return {"item": item.label, "enforcedBy": "manual", "status": "manual", "detail": item.manual}
    mine = [f for f in findings if f.rule_id in item.rules and stack in f.stack.split("+")]
    rule_levels = {rule_id: levels.get(rule_id, ("mandatory", {}))[0] for rule_id in item.rules}
    elsewhere = [r for r in item.rules if levels.get(r, ("", {}))[1].get("requireManagedZone") is False]
    waivers = {f"{rule_id} {clause}": reason for rule_id in item.rules
               for clause, reason in (levels.get(rule_id, ("", {}))[1].get("waivers") or {}).items()}
    if any(f.mandatory for f in mine):
        status, detail = "FAIL", "; ".join(f"{f.rule_id}: {f.message}" for f in mine if f.mandatory)
    elif "disabled" in rule_levels.values():
        status = "disabled"
        off = [r for r, lvl in rule_levels.items() if lvl == "disabled"]
        detail = "off for this stack in policies/config: " + ", ".join(off)
    elif elsewhere:
        status = "disabled"
        detail = f"zone-wide, checked by the stack owning the zone (requireManagedZone false): {', '.join(elsewhere)}"
    elif waivers:
        status, detail = "waived", "; ".join(f"{where} waived: {reason}" for where, reason in waivers.items())
    elif mine or "advisory" in rule_levels.values():
        status = "advisory"
        detail = "; ".join(f"{f.rule_id}: {f.message}" for f in mine) or "advisory here: " + ", ".join(
            r for r, lvl in rule_levels.items() if lvl == "advisory")
    else:
        status, detail = "pass", "mandatory, no finding"
    return {"item": item.label, "enforcedBy": ", ".join(item.rules), "status": status, "detail": detail[:400]}


def readiness(stack: str, plan: Plan | None = None, project: Any = None) -> list[dict[str, str]]:
    """One row per checklist item (or part of one): item, enforcedBy, status, detail. `project` is a
    `Project`, by default the one the working directory is in."""
    from ..plan import make_plan
    from ..project import Project
    from .runner import Source, run_gate

    project = project or Project.discover()
    plan = plan or make_plan(stack, project=project)
    report = run_gate([Source("stack", stack)], project=project, make_plan=lambda _: plan)
    levels = _levels(stack, project)
    return [_row(item, stack, report.findings, levels) for item in CHECKLIST]


def failing(rows: list[dict[str, str]], fail_on: str | None) -> list[dict[str, str]]:
    """The rows that make `readiness --fail-on` exit 1."""
    return [r for r in rows if fail_on and r["status"] in FAIL_ON[fail_on]]


def render(stack: str, rows: list[dict[str, str]], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps({"stack": stack, "items": rows}, indent=2)
    counts = ", ".join(f"{n} {s}" for s in STATUSES if (n := sum(r["status"] == s for r in rows)))
    if fmt == "markdown":
        lines = [f"### Production readiness checklist: {stack}", "", counts, "",
                 "| status | checklist item | enforced by | detail |", "|---|---|---|---|"]
        lines += [f"| {r['status']} | {r['item']} | {r['enforcedBy']} | {r['detail'].replace('|', '/')} |"
                  for r in rows]
        return "\n".join(lines)
    width = max(len(s) for s in STATUSES)
    lines = [f"The production readiness checklist for stack {stack}:"]
    for r in rows:
        lines.append(f"  {r['status']:<{width}}  {r['item']}")
        lines.append(f"  {'':<{width}}    enforced by: {r['enforcedBy']}; {r['detail']}")
    return "\n".join([*lines, "", f"  {counts}"])


def readiness_report(stack: str, fmt: str = "table", project: Any = None) -> tuple[str, list[dict[str, str]]]:
    rows = readiness(stack, project=project)
    return render(stack, rows, fmt), rows
