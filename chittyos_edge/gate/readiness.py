"""Checklist traceability: each item of the production readiness checklist (seed 002) that a
machine can check, what enforces it (a policy rule, or a setting the components declare), and its
status in one stack; the items no program can check are listed as such.

Statuses: `pass`, `FAIL` (a mandatory finding), `advisory` (findings at advisory level),
`disabled` (the rule is off for this stack), `set` / `not set` (a component setting found or not
in the plan), `manual` (people check it: tests, sign-offs, training, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

Plan = dict[str, Any]
SettingCheck = Callable[[Plan], tuple[bool, str]]

T = "cloudflare:index/"


def _custom(plan: Plan, token: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == f"{T}{token}"]


def _scripts(plan: Plan) -> list[dict[str, Any]]:
    """Resources carrying a Worker's code and bindings (one-shot scripts and versions)."""
    return _custom(plan, "workersScript:WorkersScript") + _custom(plan, "workerVersion:WorkerVersion")


def _bindings(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [b for s in _scripts(plan) for b in s["inputs"].get("bindings") or [] if b.get("type") == kind]


def _zone_setting(setting: str, value: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        found = [r["inputs"].get("value") for r in _custom(plan, "zoneSetting:ZoneSetting")
                 if r["inputs"].get("settingId") == setting]
        return (value in found, f"ZoneSetting {setting} = {found[0]!r}" if found else f"no ZoneSetting {setting}")
    return check


def _ruleset_rules(plan: Plan, phase: str) -> list[dict[str, Any]]:
    return [rule for r in _custom(plan, "ruleset:Ruleset") if r["inputs"].get("phase") == phase
            for rule in r["inputs"].get("rules") or []]


def _header(name: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        ok = any(name in ((rule.get("actionParameters") or {}).get("headers") or {})
                 for rule in _ruleset_rules(plan, "http_response_headers_transform"))
        return ok, f"response header {name} {'set' if ok else 'not set'} (edgeSecurity.securityHeaders)"
    return check


def _cpu(plan: Plan) -> tuple[bool, str]:
    limits = {s["inputs"].get("scriptName"): (s["inputs"].get("limits") or {}).get("cpuMs") for s in _scripts(plan)}
    return bool(limits) and all(limits.values()), f"cpuMs per script: {limits}"


def _nodejs(plan: Plan) -> tuple[bool, str]:
    flags = {s["inputs"].get("scriptName"): "nodejs_compat" in (s["inputs"].get("compatibilityFlags") or [])
             for s in _scripts(plan)}
    return bool(flags) and all(flags.values()), f"nodejs_compat per script: {flags}"


def _environment_var(plan: Plan) -> tuple[bool, str]:
    values = {b.get("text") for b in _bindings(plan, "plain_text") if b.get("name") == "ENVIRONMENT"}
    return values == {plan["stack"]}, f"ENVIRONMENT = {sorted(values)}"


def _custom_domains(plan: Plan) -> tuple[bool, str]:
    hosts = sorted(r["inputs"].get("hostname") for r in _custom(plan, "workersCustomDomain:WorkersCustomDomain"))
    return bool(hosts), f"custom domains: {hosts}"


def _archival(plan: Plan) -> tuple[bool, str]:
    archived = sorted(r["inputs"].get("bucketName") for r in _custom(plan, "r2BucketLifecycle:R2BucketLifecycle")
                      if any(rule.get("storageClassTransitions") for rule in r["inputs"].get("rules") or []))
    return bool(archived), f"buckets moving to Infrequent Access: {archived}"


def _do_classes(plan: Plan) -> tuple[bool, str]:
    classes = sorted({b.get("className") for b in _bindings(plan, "durable_object_namespace")})
    return bool(classes), f"Durable Object classes bound: {classes}"


def _datasets(plan: Plan) -> tuple[bool, str]:
    datasets = sorted(b.get("dataset") for b in _bindings(plan, "analytics_engine"))
    return bool(datasets), f"Analytics Engine datasets: {datasets}"


def _records(kind: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        names = sorted(r["inputs"].get("name") for r in _custom(plan, "dnsRecord:DnsRecord")
                       if r["inputs"].get("type") == kind)
        return bool(names), f"{kind} records: {names}"
    return check


def _present(token: str, what: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        found = _custom(plan, token)
        return bool(found), f"{len(found)} {what}"
    return check


def _phase(phase: str, what: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        rules = _ruleset_rules(plan, phase)
        return bool(rules), f"{len(rules)} {what}"
    return check


def _rule_ref(phase: str, needle: str, what: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        ok = any(needle in (rule.get("expression") or "") or needle == rule.get("ref")
                 for rule in _ruleset_rules(plan, phase))
        return ok, f"{what} {'present' if ok else 'absent'}"
    return check


def _alert(alert_type: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        found = [r for r in _custom(plan, "notificationPolicy:NotificationPolicy")
                 if r["inputs"].get("alertType") == alert_type and r["inputs"].get("enabled") is not False]
        return bool(found), f"{len(found)} enabled '{alert_type}' notification policies"
    return check


def _webhook(word: str) -> SettingCheck:
    def check(plan: Plan) -> tuple[bool, str]:
        found = [r["inputs"].get("name") for r in _custom(plan, "notificationPolicyWebhooks:NotificationPolicyWebhooks")
                 if word in str(r["inputs"].get("name", "")).lower() or word in str(r["inputs"].get("url", "")).lower()]
        return bool(found), f"{word} webhooks: {found}"
    return check


def _secrets(plan: Plan) -> tuple[bool, str]:
    names = [b.get("name") for b in _bindings(plan, "secret_text")]
    marked = all(any(p.startswith("bindings") for p in s["secretInputs"]) for s in _scripts(plan)
                 if any(b.get("type") == "secret_text" for b in s["inputs"].get("bindings") or []))
    return bool(names) and marked, f"{len(names)} secret_text bindings, all marked secret: {marked}"


@dataclass(frozen=True)
class Item:
    key: str  # "Section > Group > Item", as in seed 002
    rules: tuple[str, ...] = ()
    setting: SettingCheck | None = None
    setting_name: str = ""
    manual: str = ""


CHECKLIST: tuple[Item, ...] = (
    # ---- Infrastructure Readiness ----
    Item("Infrastructure Readiness > Cloudflare Workers Configuration > Resource limits optimized for AI "
         "workloads (100k CPU ms, 512MB memory)", setting=_cpu, setting_name="services.<name>.cpuMs"),
    Item("Infrastructure Readiness > Cloudflare Workers Configuration > Environment variables configured for "
         "production", setting=_environment_var, setting_name="services.<name>.vars.ENVIRONMENT"),
    Item("Infrastructure Readiness > Cloudflare Workers Configuration > Custom domains configured "
         "(project-awareness.chitty.cc)", setting=_custom_domains, setting_name="services.<name>.customDomains"),
    Item("Infrastructure Readiness > Cloudflare Workers Configuration > Compatibility flags set for Node.js "
         "compatibility", setting=_nodejs, setting_name="services.<name>.compatibilityFlags"),
    Item("Infrastructure Readiness > KV Storage Setup > Production KV namespaces created with proper IDs",
         rules=("CF-ENV-001", "CF-ENV-002")),
    Item("Infrastructure Readiness > R2 Storage Configuration > Production buckets created with lifecycle policies",
         rules=("CF-R2-001",)),
    Item("Infrastructure Readiness > R2 Storage Configuration > CORS configuration for cross-origin access",
         rules=("CF-CORS-001",)),
    Item("Infrastructure Readiness > R2 Storage Configuration > Public access settings configured appropriately",
         rules=("CF-R2-002",)),
    Item("Infrastructure Readiness > R2 Storage Configuration > Data archival policies implemented",
         setting=_archival, setting_name="r2Buckets.<name>.lifecycle[].transitionToInfrequentAccessDays"),
    Item("Infrastructure Readiness > Durable Objects Deployment > All Durable Object classes deployed",
         setting=_do_classes, setting_name="durableObjects.<name>.classes"),
    Item("Infrastructure Readiness > Durable Objects Deployment > Migration strategies validated",
         rules=("CF-DO-001",)),
    Item("Infrastructure Readiness > Analytics Engine Setup > All datasets created (usage, performance, security, "
         "business)", setting=_datasets, setting_name="services.<name>.bindings.analyticsEngine"),
    Item("DNS and Domain Configuration > Primary Domain Setup > SSL certificate installed and valid",
         rules=("CF-TLS-001", "CF-TLS-002")),
    Item("DNS and Domain Configuration > Primary Domain Setup > HSTS configuration enabled", rules=("CF-TLS-003",)),
    Item("DNS and Domain Configuration > Primary Domain Setup > CAA records configured", setting=_records("CAA"),
         setting_name="DnsRecord type CAA (not declared by any component yet)"),
    Item("DNS and Domain Configuration > API Subdomain Setup > Load balancing configured if needed",
         setting=_present("loadBalancer:LoadBalancer", "load balancers"), setting_name="loadBalancing.enabled"),
    Item("CDN and Edge Configuration > Caching Rules > Intelligent caching rules deployed",
         setting=_phase("http_request_cache_settings", "cache rules"), setting_name="edgeSecurity.cacheRules"),
    Item("CDN and Edge Configuration > Performance Optimization > HTTP/2 and HTTP/3 enabled",
         setting=_zone_setting("http3", "on"), setting_name="edgeSecurity.tls.http3"),
    Item("CDN and Edge Configuration > Performance Optimization > Brotli compression enabled",
         setting=_zone_setting("brotli", "on"), setting_name="ZoneSetting brotli (not declared by any component yet)"),
    # ---- Security Validation ----
    Item("WAF Rules Implementation > AI-Specific Protection Rules > AI platform verification rules active",
         setting=_rule_ref("http_request_firewall_custom", "ai_platform_verification", "AI platform verification rule"),
         setting_name="edgeSecurity.wafCustomRules"),
    Item("WAF Rules Implementation > AI-Specific Protection Rules > API abuse protection implemented",
         setting=_phase("http_ratelimit", "rate-limit rules"), setting_name="edgeSecurity.rateLimits"),
    Item("WAF Rules Implementation > Standard Security Rules > SQL injection protection enabled",
         rules=("CF-WAF-001",)),
    Item("WAF Rules Implementation > Standard Security Rules > XSS protection configured", rules=("CF-WAF-001",)),
    Item("WAF Rules Implementation > Rate Limiting Configuration > Endpoint-specific rate limits configured",
         rules=("CF-RL-001",)),
    Item("WAF Rules Implementation > Rate Limiting Configuration > WebSocket connection limits set",
         setting=_rule_ref("http_ratelimit", '"/ws"', "rate limit on /ws"), setting_name="edgeSecurity.rateLimits"),
    Item("Security Headers and Policies > Security Headers > HSTS configured with preload", rules=("CF-TLS-004",)),
    Item("Security Headers and Policies > Security Headers > Content Security Policy implemented",
         setting=_header("Content-Security-Policy"), setting_name="edgeSecurity.securityHeaders"),
    Item("Security Headers and Policies > Security Headers > X-Frame-Options configured",
         setting=_header("X-Frame-Options"), setting_name="edgeSecurity.securityHeaders"),
    Item("Security Headers and Policies > Security Headers > X-Content-Type-Options set",
         setting=_header("X-Content-Type-Options"), setting_name="edgeSecurity.securityHeaders"),
    Item("Security Headers and Policies > Security Headers > Referrer Policy configured",
         setting=_header("Referrer-Policy"), setting_name="edgeSecurity.securityHeaders"),
    Item("Security Headers and Policies > CORS Configuration > Allowed origins properly restricted",
         rules=("CF-CORS-001", "CF-CORS-002")),
    Item("Authentication and Authorization > API Authentication > API key management secure", rules=("CF-SEC-001",)),
    # ---- Monitoring and Alerting ----
    Item("Monitoring and Alerting > Comprehensive Health Checks > Primary endpoint health check configured",
         rules=("CF-MON-001",)),
    Item("Monitoring and Alerting > Comprehensive Health Checks > API endpoint health checks active",
         rules=("CF-MON-001",)),
    Item("Monitoring and Alerting > Critical Alerts > PagerDuty integration configured",
         setting=_webhook("pagerduty"), setting_name="monitoring.pagerduty"),
    Item("Monitoring and Alerting > Critical Alerts > Service down alerts active", rules=("CF-MON-002",)),
    Item("Monitoring and Alerting > Critical Alerts > High error rate alerts set",
         setting=_alert("http_alert_origin_error"), setting_name="monitoring.alerts"),
    Item("Monitoring and Alerting > Warning Alerts > Slack integration configured", setting=_webhook("slack"),
         setting_name="monitoring.slack"),
    # ---- Testing, continuity, deployment ----
    Item("Testing Validation > Vulnerability Assessment > Access control vulnerabilities resolved",
         rules=("CF-TUN-001", "CF-TUN-002")),
    Item("Business Continuity > Rollback Strategy > Data rollback procedures defined",
         rules=("CF-DATA-001", "CF-DATA-002")),
    Item("Deployment Execution Plan > Final Validation > Staging environment fully validated",
         rules=("CF-ENV-002", "CF-ENV-003")),
    Item("Deployment Execution Plan > Preparation > Production secrets configured", setting=_secrets,
         setting_name="services.<name>.secrets (Pulumi secrets)"),
    # ---- what no program can check ----
    Item("Performance Validation > Global Performance Testing, Load Testing, Caching Performance (all items)",
         manual="measured by load and latency tests against the deployed estate"),
    Item("Integration Validation > AI Platform Integrations, External Service Dependencies (all items)",
         manual="end-to-end tests with Claude, ChatGPT, ChittyID, ChittyChat, ChittyRegistry"),
    Item("Testing Validation > Automated Testing Suite, Penetration Testing (all items)",
         manual="test coverage and external security assessment"),
    Item("Business Continuity > Disaster Recovery Plan, Incident Response Plan (all items)",
         manual="documented and rehearsed procedures"),
    Item("Documentation and Training (all items)", manual="documentation review and team training"),
    Item("Performance Benchmarks, Cost Optimization Validation, Success Metrics (all items)",
         manual="measured after deployment"),
    Item("Sign-off Requirements > Technical, Business and Compliance Sign-offs (all items)",
         manual="sign-offs by people"),
    Item("Final Go/No-Go Criteria (all items)", manual="a decision by people, informed by this report"),
)


def checklist_keys() -> set[str]:
    return {item.key for item in CHECKLIST if not item.manual}


def _rule_status(rule_ids: tuple[str, ...], stack: str, report: Any, levels: dict[str, str]) -> tuple[str, str]:
    found = [f for f in report.findings if f.rule_id in rule_ids and f.stack in (stack, )]
    found += [f for f in report.findings if f.rule_id in rule_ids and "+" in f.stack]
    rule_levels = [levels.get(rule_id, "mandatory") for rule_id in rule_ids]
    if any(f.mandatory for f in found):
        return "FAIL", "; ".join(f"{f.rule_id}: {f.message}" for f in found if f.mandatory)[:300]
    if found:
        return "advisory", "; ".join(f"{f.rule_id}: {f.message}" for f in found)[:300]
    if all(level == "disabled" for level in rule_levels):
        return "disabled", "rule disabled for this stack in policies/config"
    return "pass", ", ".join(f"{r} ({lvl})" for r, lvl in zip(rule_ids, rule_levels))


def readiness(stack: str, plan: Plan | None = None, project: Any = None) -> list[dict[str, str]]:
    """One row per checklist item: key, enforced by, status, detail (`project`: a `Project`, by
    default the one the working directory is in)."""
    from ..plan import make_plan
    from ..project import Project
    from .runner import Source, run_gate

    project = project or Project.discover()
    plan = plan or make_plan(stack, project=project)
    report = run_gate([Source("stack", stack)], project=project, make_plan=lambda _: plan)
    levels = _levels(stack, report, project)
    rows = []
    for item in CHECKLIST:
        if item.manual:
            rows.append({"item": item.key, "enforcedBy": "manual", "status": "manual", "detail": item.manual})
        elif item.rules:
            status, detail = _rule_status(item.rules, stack, report, levels)
            rows.append({"item": item.key, "enforcedBy": ", ".join(item.rules), "status": status, "detail": detail})
        else:
            ok, detail = item.setting(plan)  # type: ignore[misc]
            rows.append({"item": item.key, "enforcedBy": f"setting: {item.setting_name}",
                         "status": "set" if ok else "not set", "detail": detail})
    return rows


def _levels(stack: str, report: Any, project: Any) -> dict[str, str]:
    """rule id -> enforcement level in this stack's policy config."""
    from . import policy_config
    from .gate_rules import GATE_RULES

    document = policy_config.load(stack, project.policy_config_dir)
    by_name = {rule["policy"]: rule["id"] for rule in report.rules}
    default = policy_config.document_level(document)
    levels = {rule_id: default for rule_id in by_name.values()}
    for name, value in document.items():
        if name in by_name:
            level = value if isinstance(value, str) else value.get("enforcementLevel")
            if level:
                levels[by_name[name]] = level
    for rule in GATE_RULES:
        levels.setdefault(rule.id, default)
    return levels


def readiness_report(stack: str, fmt: str = "table", project: Any = None) -> tuple[str, list[dict[str, str]]]:
    rows = readiness(stack, project=project)
    if fmt == "json":
        return json.dumps({"stack": stack, "items": rows}, indent=2), rows
    if fmt == "markdown":
        lines = [f"### Readiness checklist: {stack}", "", "| status | checklist item | enforced by | detail |",
                 "|---|---|---|---|"]
        lines += [f"| {r['status']} | {r['item']} | {r['enforcedBy']} | {r['detail'].replace('|', '/')} |" for r in rows]
        return "\n".join(lines), rows
    width = max(len(r["status"]) for r in rows)
    lines = [f"Readiness checklist (seed 002) for stack {stack}:"]
    for r in rows:
        lines.append(f"  {r['status']:<{width}}  {r['item']}")
        lines.append(f"  {'':<{width}}    enforced by: {r['enforcedBy']}; {r['detail']}")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines.append("")
    lines.append("  " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines), rows
