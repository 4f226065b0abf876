"""The policy pack, rule by rule, on the committed production plan: each rule has a row in one table
of (rule id, the one change it forbids), and that change makes the rule report a mandatory finding.

Every row runs through ONE pack process over the Analyzer protocol (the gate's client), so the
rules run exactly as under `pulumi preview --policy-pack policies`. A row is checked with only its
rule enabled (the others `disabled` in Configure, as a policy config would), which keeps each row
to one cheap AnalyzeStack; that the committed plans pass with every rule on is tested in
tests/test_gate.py.
"""

from __future__ import annotations

import copy
import json
import re
import types
from pathlib import Path
from typing import Any, Callable, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from chittyos_edge.config.stack import StackConfig
from chittyos_edge.gate import policy_config
from chittyos_edge.gate.client import PolicyPackProcess
from chittyos_edge.gate.findings import Finding
from chittyos_edge.gate.gate_rules import ADOPTS_WHAT_RUNS, GATE_RULES, RETAINED, retained_problems, shared_identifiers
from chittyos_edge.gate.locations import locate
from chittyos_edge.gate.readiness import CHECKLIST, checklist_keys
from chittyos_edge.gate.runner import Gate, _finding, _gate_finding, adoption_collisions
from chittyos_edge.project import Project
from chittyos_edge.gate.sources import StackInput, from_plan
from policies.chittyos_guard import RULES, zone
from policies.chittyos_guard._rule import ENTRY
from tests.conftest import LONG_ROUTES

Plan = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
RULE_ID = re.compile(r"^CF-[A-Z0-9]+-\d{3}$")
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2


class Pack:
    """One pack process; runs a plan with all rules or with one rule on."""

    def __init__(self, process: PolicyPackProcess):
        self.process = process
        self.gate = Gate(process)
        self.policies = self.gate.policies

    def config(self, stack: str, only: str | None) -> policy_config.Reconciled:
        document = policy_config.load(stack)
        reconciled = policy_config.reconcile(self.policies.values(), document, stack)
        return {name: ((level if only is None or self.policies[name].rule_id == only else "disabled"), props)
                for name, (level, props) in reconciled.items()}

    def findings(self, plan: Plan, only: str | None = None) -> list[Finding]:
        stack = from_plan(plan, f"plan of {plan['stack']}")
        self.process.configure(stack.stack, stack.project, self.config(stack.stack, only))
        diagnostics = self.process.analyze_each(stack.resources) + self.process.analyze_stack(stack.resources)
        found = [_finding(stack.stack, d, self.policies) for d in diagnostics]
        if only in (None, RETAINED.id):
            found += [_gate_finding(stack.stack, RETAINED, "mandatory", message, urn)
                      for urn, message in retained_problems(stack)]
        if only in (None, ADOPTS_WHAT_RUNS.id):
            found += [_gate_finding(stack.stack, ADOPTS_WHAT_RUNS, "mandatory", message, urn)
                      for urn, message in adoption_collisions(stack, Project.discover())]
        return found


@pytest.fixture(scope="module")
def pack(policy_pack):
    return Pack(policy_pack)


def located_in(pack: Pack, plan: Plan, findings: list[Finding], section: str) -> None:
    """Every finding points at a line (> 1) of the plan's stack file, on a key under `section`: where the
    reports (SARIF, annotations, markdown) send the reader. Locating is pure: no pack call."""
    stack_file = f"Pulumi.{plan['stack']}.yaml"
    where = locate(findings, {plan["stack"]: plan["resources"]}, ROOT, keys=pack.gate.keys)
    for finding in findings:
        at = where[finding]
        under = at.key == section or at.key.startswith((f"{section}.", f"{section}["))
        assert at.file == stack_file and at.line and at.line > 1 and under, (
            f"{finding.rule_id} {finding.resource}: located at {at}, not under {section} of {stack_file}")


def report(findings: list[Finding]) -> str:
    return "\n".join(f"{f.enforcement} {f.rule_id} {f.resource}: {f.message}" for f in findings) or "(none)"


# ---- finding and changing resources in a plan ----------------------------------------------

def find(plan: Plan, type_suffix: str, where: Callable[[dict], bool] = lambda r: True) -> dict:
    found = [r for r in plan["resources"] if r["type"].endswith(type_suffix) and where(r)]
    assert found, f"no {type_suffix} in the plan matches"
    return found[0]


def named(fragment: str) -> Callable[[dict], bool]:
    return lambda r: fragment in r["name"]


def inputs(plan: Plan, type_suffix: str, fragment: str = "") -> dict:
    return find(plan, type_suffix, named(fragment))["inputs"]


def setting(plan: Plan, setting_id: str) -> dict:
    return find(plan, "ZoneSetting", lambda r: r["inputs"]["settingId"] == setting_id)["inputs"]


def phase(plan: Plan, name: str) -> dict:
    """The inputs of the zone ruleset of a phase, added to the plan when it has none."""
    found = [r for r in plan["resources"] if r["type"].endswith("ruleset:Ruleset") and r["inputs"]["phase"] == name]
    if found:
        return found[0]["inputs"]
    return add(plan, "ruleset:Ruleset", f"test-{name}", {"kind": "zone", "name": name, "phase": name, "rules": []})


def rules_on(plan: Plan, phase_name: str, path: str) -> list[dict]:
    """The rules of a phase whose expression names `path` as a condition (eq or starts_with)."""
    return [rule for rule in phase(plan, phase_name)["rules"] if f'"{path}")' in rule["expression"]
            or f'eq "{path}"' in rule["expression"]]


def zone_id(plan: Plan) -> str:
    return setting(plan, "ssl")["zoneId"]


def add(plan: Plan, type_token: str, name: str, props: dict) -> dict:
    """Add a resource to the plan, in the production zone."""
    record = copy.deepcopy(find(plan, "ZoneSetting"))
    token, full = f"cloudflare:index/{type_token}", f"{plan['stack']}-{name}"
    record.update(type=token, name=full, inputs={"zoneId": zone_id(plan), **props}, secretInputs=[],
                  urn=f"urn:pulumi:{plan['stack']}::chittyos-edge::{token}::{full}", propertyDependencies={},
                  dependencies=[])
    plan["resources"].append(record)
    return record["inputs"]


def unlink(plan: Plan, type_suffix: str, prop: str, value: Any, where: Callable[[dict], bool] = lambda r: True) -> None:
    """Set an input that referenced another resource, and drop that reference (as the program would)."""
    for record in [r for r in plan["resources"] if r["type"].endswith(type_suffix) and where(r)]:
        record["inputs"][prop] = value
        record["propertyDependencies"].pop(prop, None)


def remove(plan: Plan, type_suffix: str, where: Callable[[dict], bool] = lambda r: True) -> None:
    plan["resources"].remove(find(plan, type_suffix, where))


def code(plan: Plan, fragment: str) -> dict:
    """The inputs holding a Worker's code settings: its WorkersScript, or its (first) WorkerVersion."""
    return find(plan, "", lambda r: r["type"].endswith(("WorkersScript", "WorkerVersion")) and fragment in r["name"])["inputs"]


def worker(plan: Plan, fragment: str) -> dict:
    """The record naming a Worker: its WorkersScript, or its v6 Worker."""
    return find(plan, "", lambda r: r["type"].endswith(("WorkersScript", "index/worker:Worker")) and fragment in r["name"])


def workers_dev_on(plan: Plan, fragment: str) -> None:
    subdomains = [r for r in plan["resources"] if r["type"].endswith("WorkersScriptSubdomain") and fragment in r["name"]]
    if subdomains:
        subdomains[0]["inputs"]["enabled"] = True
    else:
        worker(plan, fragment)["inputs"]["subdomain"] = {"enabled": True}


def binding(plan: Plan, script: str, name: str) -> dict:
    return next(b for b in code(plan, script)["bindings"] if b["name"] == name)


def limit(plan: Plan, path: str, **changes: Any) -> None:
    """Change every rate limit that names `path`, or declare one for it, with `changes`."""
    named_here = [r for r in phase(plan, "http_ratelimit")["rules"] if f'"{path}"' in r["expression"]]
    if not named_here:
        named_here = [{"action": "block", "enabled": True, "ref": "test_limit",
                       "expression": f'(http.request.uri.path eq "{path}")',
                       "ratelimit": {"characteristics": ["cf.colo.id", "ip.src"], "period": 60, "requestsPerPeriod": 1}}]
        phase(plan, "http_ratelimit")["rules"].append(named_here[0])
    for rule in named_here:
        rule.update({k: v for k, v in changes.items() if k != "ratelimit"})
        rule["ratelimit"].update(changes.get("ratelimit", {}))


def alert(plan: Plan, alert_type: str, fragment: str = "", **changes: Any) -> None:
    """Change the alerts of a type (or named with `fragment`), or declare one, with `changes`; a change
    of `mechanisms` drops the references the old ones made."""
    matching = [r for r in plan["resources"] if r["type"].endswith("NotificationPolicy")
                and (r["inputs"]["alertType"] == alert_type or (fragment and fragment in r["name"]))]
    if not matching:
        add(plan, "notificationPolicy:NotificationPolicy", f"test-{alert_type}",
            {"alertType": alert_type, "name": f"test-{alert_type}", "enabled": True, "mechanisms": {}})
        matching = [plan["resources"][-1]]
    for record in matching:
        record["inputs"].update(changes)
        if "mechanisms" in changes:
            record["propertyDependencies"].pop("mechanisms", None)


def plain_secret(plan: Plan) -> None:
    code(plan, "project-awareness")["bindings"].append({"type": "secret_text", "name": "X_TOKEN", "text": "abc"})


def header_rule(plan: Plan) -> dict:
    return phase(plan, "http_response_headers_transform")["rules"][0]["actionParameters"]["headers"]


def ingress(plan: Plan) -> list[dict]:
    return inputs(plan, "ZeroTrustTunnelCloudflaredConfig")["config"]["ingresses"]


def each(items: list[dict], **changes: Any) -> None:
    assert items, "nothing to change"
    for item in items:
        item.update(changes)


# ---- one forbidden change per rule ---------------------------------------------------------

# Project Awareness's sites: its custom domain, and its route api.chitty.cc/project-awareness/*.
ON_DOMAIN = 'http.host in {"project-awareness.chitty.cc"}'
ON_ROUTE = '(http.host eq "api.chitty.cc" and starts_with(http.request.uri.path, "/project-awareness/"))'

MUTATIONS: list[tuple[str, str, Callable[[Plan], Any]]] = [
    ("CF-TLS-001", "minimum TLS 1.2", lambda p: setting(p, "min_tls_version").update(value="1.2")),
    ("CF-TLS-002", "SSL mode full, not strict", lambda p: setting(p, "ssl").update(value="full")),
    ("CF-TLS-003", "HTTP not redirected", lambda p: setting(p, "always_use_https").update(value="off")),
    ("CF-TLS-004", "HSTS without preload", lambda p: setting(p, "security_header")["value"]["strict_transport_security"].update(preload=False)),
    ("CF-TLS-004", "HSTS for a day", lambda p: setting(p, "security_header")["value"]["strict_transport_security"].update(max_age=86400)),
    ("CF-TLS-005", "TLS 1.3 off", lambda p: setting(p, "tls_1_3").update(value="off")),
    ("CF-TLS-006", "automatic HTTPS rewrites off", lambda p: setting(p, "automatic_https_rewrites").update(value="off")),
    ("CF-TLS-007", "Universal SSL off", lambda p: add(p, "universalSslSetting:UniversalSslSetting", "universal-ssl", {"enabled": False})),
    ("CF-DNS-001", "DNSSEC disabled", lambda p: inputs(p, "ZoneDnssec").update(status="disabled")),
    ("CF-BOT-001", "Bot Fight Mode declared off", lambda p: add(p, "botManagement:BotManagement", "bots", {"fightMode": False})),
    ("CF-WAF-006", "uploads of 500 MB", lambda p: add(p, "zoneSetting:ZoneSetting", "max-upload", {"settingId": "max_upload", "value": 500})),
    ("CF-PERF-001", "HTTP/3 off", lambda p: setting(p, "http3").update(value="off")),
    ("CF-PERF-002", "HTTP/2 off", lambda p: add(p, "zoneSetting:ZoneSetting", "http2", {"settingId": "http2", "value": "off"})),
    ("CF-PERF-003", "Brotli off", lambda p: add(p, "zoneSetting:ZoneSetting", "brotli", {"settingId": "brotli", "value": "off"})),
    ("CF-HDR-001", "no Content-Security-Policy", lambda p: header_rule(p).pop("Content-Security-Policy")),
    ("CF-HDR-002", "framing allowed", lambda p: header_rule(p)["X-Frame-Options"].update(value="ALLOWALL")),
    ("CF-HDR-003", "no X-Content-Type-Options", lambda p: header_rule(p).pop("X-Content-Type-Options")),
    ("CF-HDR-004", "referrer leaks full URLs", lambda p: header_rule(p)["Referrer-Policy"].update(value="unsafe-url")),
    ("CF-DNS-002", "tunnel record DNS-only", lambda p: inputs(p, "DnsRecord").update(proxied=False)),
    ("CF-DNS-003", "wildcard record", lambda p: add(p, "dnsRecord:DnsRecord", "wild", {"name": "*.chitty.cc", "type": "CNAME", "content": "chitty.cc", "proxied": True, "ttl": 1})),
    ("CF-DNS-004", "CAA record naming no authority", lambda p: add(p, "dnsRecord:DnsRecord", "caa", {"name": "chitty.cc", "type": "CAA", "ttl": 1, "data": {"flags": 0, "tag": "iodef", "value": "mailto:x@chitty.cc"}})),
    ("CF-WAF-001", "managed ruleset in log mode", lambda p: phase(p, "http_request_firewall_managed")["rules"][0]["actionParameters"].update(overrides={"action": "log"})),
    ("CF-WAF-002", "OWASP ruleset disabled", lambda p: each([r for r in phase(p, "http_request_firewall_managed")["rules"] if r["actionParameters"]["id"].startswith("4814384a")], enabled=False)),
    ("CF-WAF-003", "AI verification only logs", lambda p: each([r for ph in ("http_request_firewall_custom", "http_ratelimit") for r in phase(p, ph)["rules"] if "user_agent" in r["expression"]], action="log")),
    ("CF-WAF-004", "session integrity rule removed", lambda p: phase(p, "http_request_firewall_custom").update(rules=[r for r in phase(p, "http_request_firewall_custom")["rules"] if "/sessions/" not in r["expression"]])),
    ("CF-WAF-005", "sync security only logs", lambda p: each([r for r in phase(p, "http_request_firewall_custom")["rules"] if "/api/projects/sync" in r["expression"]], action="log")),
    ("CF-RL-001", "auth limit raised to 100/min", lambda p: each([r["ratelimit"] for r in rules_on(p, "http_ratelimit", "/api/auth/")], requestsPerPeriod=100, period=60)),
    ("CF-RL-001", "auth limit scoped to the custom domain only", lambda p: each(rules_on(p, "http_ratelimit", "/api/auth/"), expression=f"({ON_DOMAIN}) and (starts_with(http.request.uri.path, \"/api/auth/\"))")),
    ("CF-RL-001", "auth limit testing root paths on the route (a side door)", lambda p: each(rules_on(p, "http_ratelimit", "/api/auth/"), expression=f"({ON_DOMAIN} or {ON_ROUTE}) and (starts_with(http.request.uri.path, \"/api/auth/\"))")),
    ("CF-WAF-005", "sync security scoped to the custom domain only", lambda p: each([r for r in phase(p, "http_request_firewall_custom")["rules"] if "/api/projects/sync" in r["expression"]], expression=f'({ON_DOMAIN}) and (http.request.uri.path eq "/api/projects/sync" and http.request.method eq "POST" and any(len(http.request.headers["origin"][*])[*] gt 0))')),
    ("CF-RL-002", "a suggestions limit that only logs", lambda p: limit(p, "/api/projects/suggestions", action="log")),
    ("CF-RL-003", "a sessions limit per colo only", lambda p: limit(p, "/api/sessions/", ratelimit={"characteristics": ["cf.colo.id"]})),
    ("CF-RL-004", "a WebSocket limit of 25 per 10 s", lambda p: limit(p, "/ws", ratelimit={"period": 10, "requestsPerPeriod": 25})),
    ("CF-RL-005", "every /api/ limit only logs", lambda p: each(rules_on(p, "http_ratelimit", "/api/"), action="log")),
    ("CF-RL-006", "every /api/ limit at 1500/min", lambda p: each([r["ratelimit"] for r in rules_on(p, "http_ratelimit", "/api/")], requestsPerPeriod=1500, period=60)),
    ("CF-CACHE-001", "sessions cached under a shared key", lambda p: phase(p, "http_request_cache_settings")["rules"].append({"action": "set_cache_settings", "actionParameters": {"cache": True}, "enabled": True, "expression": '(starts_with(http.request.uri.path, "/api/sessions/"))', "ref": "test_sessions"})),
    ("CF-ENV-001", "a KV id of no stack", lambda p: binding(p, "project-awareness", "SESSION_STORE").update(namespaceId="f" * 32)),
    ("CF-ENV-002", "a KV namespace without environment", lambda p: inputs(p, "WorkersKvNamespace", "chittyops-sessions").update(title="chittyops-sessions")),
    ("CF-ENV-002", "an adopted KV keeping a staging name", lambda p: find(p, "WorkersKvNamespace", lambda r: bool(r["importId"]))["inputs"].update(title="IDEMP_KV_staging")),
    ("CF-ENV-005", "a custom domain served by staging's Worker", lambda p: inputs(p, "WorkersCustomDomain", "connect").update(service="chittyconnect-staging")),
    ("CF-ENV-006", "a var pointing at staging", lambda p: binding(p, "project-awareness", "CHITTY_REGISTRY_URL").update(text="https://registry-staging.chitty.cc")),
    ("CF-WRK-001", "no nodejs_compat", lambda p: code(p, "project-awareness").update(compatibilityFlags=[])),
    ("CF-WRK-002", "Project Awareness at 50k CPU ms", lambda p: code(p, "project-awareness").update(limits={"cpuMs": 50000})),
    ("CF-WRK-003", "workers.dev on", lambda p: workers_dev_on(p, "project-awareness")),
    ("CF-WRK-004", "observability off", lambda p: worker(p, "project-awareness")["inputs"]["observability"].update(enabled=False)),
    ("CF-WRK-005", "project-awareness.chitty.cc dropped", lambda p: remove(p, "WorkersCustomDomain", lambda r: r["inputs"]["hostname"] == "project-awareness.chitty.cc")),
    ("CF-WRK-006", "the api.chitty.cc route dropped", lambda p: remove(p, "WorkersRoute")),
    ("CF-WRK-007", "a deployment serving 90 % of the traffic", lambda p: find(p, "WorkersDeployment")["inputs"]["versions"][0].update(percentage=90)),
    ("CF-DO-003", "a migration in a split deployment", lambda p: find(p, "WorkersDeployment")["inputs"].update(versions=[{**find(p, "WorkersDeployment")["inputs"]["versions"][0], "percentage": 90}, {"versionId": "0" * 32, "percentage": 10}])),
    ("CF-DO-002", "a bound class never deployed", lambda p: code(p, "project-awareness").update(migrations={"newTag": "v1", "steps": [{"newSqliteClasses": []}]})),
    ("CF-AE-001", "usage dataset unbound", lambda p: code(p, "project-awareness").update(bindings=[b for b in code(p, "project-awareness")["bindings"] if b["name"] != "USAGE_ANALYTICS"])),
    ("CF-CORS-001", "R2 CORS origin over plain HTTP", lambda p: inputs(p, "R2BucketCors", "chittyconnect")["rules"][0]["allowed"].update(origins=["http://connect.chitty.cc"])),
    ("CF-CORS-002", "Worker CORS var allows *", lambda p: binding(p, "project-awareness", "CORS_ORIGIN").update(text="*")),
    ("CF-CORS-003", "R2 CORS allows every method", lambda p: inputs(p, "R2BucketCors", "chittyconnect")["rules"][0]["allowed"].update(methods=["*"])),
    ("CF-SEC-001", "a token in a plain var", lambda p: binding(p, "project-awareness", "CHITTYID_API_URL").update(text=TOKEN)),
    ("CF-SEC-001", "a secret_text binding fed a plain value", plain_secret),
    ("CF-DATA-001", "a KV namespace unprotected", lambda p: find(p, "WorkersKvNamespace").update(protect=False)),
    ("CF-DATA-001", "a Durable Object host unprotected", lambda p: worker(p, "project-awareness").update(protect=False)),
    ("CF-DATA-002", "the D1 database not retained", lambda p: find(p, "D1Database").update(retainOnDelete=False)),
    ("CF-ENV-004", "a second chittyconnect Worker next to the running one",
     lambda p: find(p, "worker:Worker", named("chittyconnect")).update(importId=None)),
    ("CF-DO-001", "a Durable Object class deleted", lambda p: code(p, "project-awareness")["migrations"]["steps"].append({"deletedClasses": ["SessionSyncDurableObject"]})),
    ("CF-Q-001", "no dead-letter queue", lambda p: inputs(p, "QueueConsumer").pop("deadLetterQueue")),
    ("CF-R2-001", "a bucket without lifecycle", lambda p: remove(p, "R2BucketLifecycle", named("chittyconnect-documents"))),
    ("CF-R2-002", "r2.dev on", lambda p: inputs(p, "R2ManagedDomain").update(enabled=True)),
    ("CF-R2-003", "documents deleted after a week", lambda p: inputs(p, "R2BucketLifecycle", "chittyconnect-documents")["rules"].append({"id": "purge", "enabled": True, "conditions": {"prefix": ""}, "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 604800}}})),
    ("CF-MON-001", "connect.chitty.cc unchecked", lambda p: remove(p, "Healthcheck", lambda r: r["inputs"]["address"] == "connect.chitty.cc")),
    ("CF-MON-002", "health check alerts go nowhere", lambda p: alert(p, "health_check_status_notification", mechanisms={})),
    ("CF-MON-003", "primary check every 5 minutes", lambda p: inputs(p, "Healthcheck", "project-awareness-health").update(interval=300)),
    ("CF-MON-003", "a check skipping certificate validation", lambda p: inputs(p, "Healthcheck", "chittyconnect-health")["httpConfig"].update(allowInsecure=True)),
    ("CF-MON-004", "the WebSocket check dropped", lambda p: remove(p, "Healthcheck", named("websocket"))),
    ("CF-MON-005", "service down only by email", lambda p: alert(p, "-", "alert-service-down", mechanisms={"emails": [{"id": "ops@chitty.cc"}]})),
    ("CF-MON-006", "an alert disabled", lambda p: alert(p, "dos_attack_l7", enabled=False)),
    ("CF-MON-007", "an error-rate alert that pages nobody", lambda p: alert(p, "http_alert_origin_error", mechanisms={"emails": [{"id": "ops@chitty.cc"}]})),
    ("CF-MON-008", "an error-rate warning that reaches no Slack", lambda p: alert(p, "http_alert_edge_error", mechanisms={"emails": [{"id": "ops@chitty.cc"}]})),
    ("CF-MON-009", "a latency alert that pages nobody", lambda p: alert(p, "synthetic_test_latency_alert", "latency", mechanisms={"emails": [{"id": "ops@chitty.cc"}]})),
    ("CF-MON-010", "budget alerts disabled", lambda p: alert(p, "billing_usage_alert", enabled=False)),
    ("CF-LB-001", "a pool without monitor", lambda p: unlink(p, "LoadBalancerPool", "monitor", None)),
    ("CF-TUN-001", "no catch-all ingress", lambda p: ingress(p).pop()),
    ("CF-TUN-002", "the Access application removed", lambda p: remove(p, "ZeroTrustAccessApplication")),
    ("CF-TUN-003", "origin does not check Access", lambda p: ingress(p)[0]["originRequest"]["access"].update(required=False)),
    ("CF-TUN-004", "an Access policy bypasses", lambda p: inputs(p, "ZeroTrustAccessPolicy", "people").update(decision="bypass")),
    ("CF-TUN-005", "Access sessions of a month", lambda p: inputs(p, "ZeroTrustAccessApplication").update(sessionDuration="720h")),
    ("CF-TUN-006", "a service token that never expires", lambda p: inputs(p, "ZeroTrustAccessServiceToken").update(duration="forever")),
]


# The stack-file section each rule is about (longest prefix of the rule id wins): its findings point there.
SECTIONS = {
    "CF-TLS": "edgeSecurity", "CF-HDR": "edgeSecurity", "CF-PERF": "edgeSecurity", "CF-BOT": "edgeSecurity",
    "CF-WAF": "edgeSecurity", "CF-RL": "edgeSecurity", "CF-CACHE": "edgeSecurity", "CF-DNS-001": "edgeSecurity",
    "CF-DNS-002": "tunnel", "CF-DNS-003": "tunnel", "CF-DNS-004": "zone", "CF-ENV": "services",
    "CF-ENV-002": "kvNamespaces", "CF-WRK": "services", "CF-AE": "services", "CF-DO": "durableObjects", "CF-DO-003": "services",
    "CF-CORS": "r2Buckets", "CF-CORS-002": "services", "CF-SEC": "services", "CF-DATA": "dataProtection",
    "CF-Q": "services", "CF-R2": "r2Buckets", "CF-MON": "monitoring", "CF-LB": "loadBalancing", "CF-TUN": "tunnel",
}


def section_of(rule_id: str) -> str:
    return SECTIONS[max((p for p in SECTIONS if rule_id.startswith(p)), key=len)]


@pytest.mark.parametrize("rule_id,what,mutate", MUTATIONS, ids=[f"{r}-{w}" for r, w, _ in MUTATIONS])
def test_each_rule_refuses_its_change_to_the_production_plan(pack, production, rule_id, what, mutate):
    plan = copy.deepcopy(production)
    mutate(plan)
    found = pack.findings(plan, only=rule_id)
    assert any(f.rule_id == rule_id and f.mandatory for f in found), f"{what}: no mandatory {rule_id}:\n{report(found)}"
    located_in(pack, plan, found, section_of(rule_id))


SPLIT_RULES = ("CF-HDR-001", "CF-HDR-002", "CF-HDR-003", "CF-HDR-004", "CF-WAF-001", "CF-WAF-002", "CF-WAF-004")
PA_ROUTE = "api.chitty.cc/project-awareness/"


def test_a_rule_deployed_in_parts_covers_every_site_and_a_missing_part_is_a_finding(pack, many_hostnames_plan):
    """Coverage is judged per site, whichever rule covers it: the security headers and managed rulesets the
    program split across ChittyConnect's many hostnames, and session_integrity split by the same splitter
    (at a length that parts Project Awareness's custom domain from its route), hold on every site; without
    the part holding a site, that site is reported."""
    from chittyos_edge import rules_language
    from chittyos_edge.config.edge import part_ref, rule_sites
    from chittyos_edge.ops.stack import settings_of
    from chittyos_edge.program import served_hostnames
    from tests.conftest import PROJECT

    settings = settings_of("production", PROJECT)
    rule = settings.edge_security.waf_custom_rules[0]
    assert rule.ref == "session_integrity"
    sites = rule_sites(rule, served_hostnames(settings, PROJECT))
    longest_site = max(len(rules_language.scoped([site], rule.expression)) for site in sites)
    chunks = rules_language.split_scoped(sites, rule.expression, longest_site)
    split = copy.deepcopy(many_hostnames_plan)
    custom = phase(split, "http_request_firewall_custom")
    (whole,) = [r for r in custom["rules"] if r["ref"] == rule.ref]
    at = custom["rules"].index(whole)
    custom["rules"][at:at + 1] = [dict(whole, ref=part_ref(rule.ref, n), expression=text)
                                  for n, (_, text) in enumerate(chunks, 1)]
    assert len(chunks) >= 2 and PA_ROUTE not in chunks[0][0]
    for ruleset in ("http_response_headers_transform", "http_request_firewall_managed"):
        assert any(r["ref"].endswith("_2") for r in phase(split, ruleset)["rules"]), f"{ruleset} is not split"
    for rule_id in SPLIT_RULES:
        found = [f for f in pack.findings(split, only=rule_id) if f.mandatory]
        assert not found, report(found)

    route_part = part_ref(rule.ref, next(n for n, (chunk, _) in enumerate(chunks, 1) if PA_ROUTE in chunk))
    for ruleset in ("http_response_headers_transform", "http_request_firewall_managed", "http_request_firewall_custom"):
        phase(split, ruleset)["rules"] = [r for r in phase(split, ruleset)["rules"]
                                          if not r["ref"].endswith("_2") and r["ref"] != route_part]
    last = LONG_ROUTES[-1].rstrip("*")
    for rule_id, site in (("CF-HDR-001", last), ("CF-WAF-001", last), ("CF-WAF-004", PA_ROUTE)):
        found = [f for f in pack.findings(split, only=rule_id) if f.mandatory]
        assert any(site in f.message for f in found), f"{rule_id}: {site} not reported:\n{report(found)}"


def test_a_canary_passes_the_rollout_rules_and_a_migration_under_it_does_not(pack):
    from tests.conftest import plan_with

    def canary(config):
        config["chittyos-edge:services"]["project-awareness"]["canary"] = {"percent": 25, "code": {
            "source": "build", "bundle": "dist/next.mjs", "sha256": "cd" * 32, "fetch": "make next"}}

    plan = plan_with("production", canary)
    for rule_id in ("CF-WRK-007", "CF-DO-003"):
        assert not [f for f in pack.findings(plan, only=rule_id) if f.mandatory], rule_id
    # the same split, as a version carrying a migration would be deployed (what the program refuses first)
    version = find(plan, "WorkerVersion", named("version-canary"))
    version["inputs"]["migrations"] = {"newTag": "v2", "steps": [{"newSqliteClasses": ["ArchiveDO"]}]}
    found = pack.findings(plan, only="CF-DO-003")
    assert any(f.mandatory and "production-project-awareness-version-canary" in f.message for f in found), report(found)


def test_every_rule_has_a_row_metadata_and_a_checklist_item(pack):
    keys, rows = checklist_keys(), {rule for item in CHECKLIST for rule in item.rules}
    ids = [p.rule_id for p in pack.policies.values()] + [r.id for r in GATE_RULES]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for policy in pack.policies.values():
        assert RULE_ID.match(policy.rule_id) and policy.description.startswith(f"{policy.rule_id}: "), policy.name
        assert policy.severity in ("low", "medium", "high", "critical") and len(policy.remediation) > 30, policy.name
        assert policy.checklist in keys, f"{policy.name}: {policy.checklist!r} is not a checkable checklist item"
    # CF-ENV-003 needs two stacks, CF-DATA-003 a change between two plans: their failing cases are in
    # test_gate_*/test_diff.py.
    assert set(ids) - {"CF-ENV-003", "CF-DATA-003"} <= {rule for rule, _, _ in MUTATIONS}, "rules without a forbidden change"
    assert set(ids) == rows, f"rules not in the readiness report: {set(ids) ^ rows}"


def _field_type(annotation: Any, token: str) -> Any:
    """The type of `token` (a field alias, or `<entry>` of a mapping) under a config model type, or None."""
    while get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return _field_type(get_args(annotation)[0], token)
    if get_origin(annotation) is dict:
        return get_args(annotation)[1] if token == ENTRY else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return next((f.annotation for n, f in annotation.model_fields.items() if (f.alias or n) == token), None)
    return None


def test_every_rule_names_a_stack_file_key_that_exists_and_the_gate_reads_it(pack):
    declared = {rule.id: rule.keys for rule in [*RULES, *GATE_RULES]}
    assert pack.gate.keys == declared  # through GetAnalyzerInfo's tags, as the CLI would see them
    for rule_id, keys in declared.items():
        assert keys, rule_id
        for key in keys:
            annotation: Any = StackConfig
            for token in key.split(".") if key != ENTRY else ():
                annotation = _field_type(annotation, token)
                assert annotation is not None, f"{rule_id}: {key} is no key of the stack config ({token})"


def test_zone_settings_and_headers_come_from_one_table():
    table = {control.id for control in zone.CONTROLS}
    headers = {r.id for r in RULES if r.id.startswith(("CF-TLS", "CF-HDR", "CF-PERF"))}
    assert headers <= table and all(r.check.__func__ is zone.Control.check for r in RULES if r.id in table)


# ---- secrets by marking --------------------------------------------------------------------

def _plain_strings(record: dict) -> list[str]:
    """Paths of the string inputs the plan does not mark secret."""
    found = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, str) and not any(path.startswith(s) for s in record["secretInputs"]):
            found.append(path)
    walk(record["inputs"], "")
    return found


def _set_path(value: Any, path: str, new: Any) -> None:
    tokens = [int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|\.?([^.\[\]]+)", path)]
    for token in tokens[:-1]:
        value = value[token]
    value[tokens[-1]] = new


def _custom_with_strings(plan: Plan) -> list[str]:
    return [r["name"] for r in plan["resources"] if r["custom"] and _plain_strings(r)]


def only(pack: Pack, rule_id: str, stack: str = "production") -> PolicyPackProcess:
    pack.process.configure(stack, "chittyos-edge", pack.config(stack, rule_id))
    return pack.process


def test_a_token_in_any_plain_input_of_any_resource_is_a_mandatory_finding(pack, production):
    names = _custom_with_strings(production)
    assert len(names) > 60
    records = []
    for name in names:
        record = copy.deepcopy(next(r for r in production["resources"] if r["name"] == name))
        _set_path(record["inputs"], _plain_strings(record)[-1], f"prefix {TOKEN}")
        records.append(record)
    found = only(pack, "CF-SEC-001").analyze_each(records)
    flagged = {d.urn for d in found if d.policy == "no-secret-in-plain-text" and d.enforcement == "mandatory"}
    assert flagged == {r["urn"] for r in records}, sorted({r["name"] for r in records if r["urn"] not in flagged})


def test_a_marked_secret_is_not_a_finding_even_when_it_looks_like_one(pack, production):
    record = copy.deepcopy(find(production, "", lambda r: r["type"].endswith(("WorkersScript", "WorkerVersion"))
                                and "project-awareness" in r["name"]))
    bindings = record["inputs"]["bindings"]
    bindings.append({"type": "secret_text", "name": "API_TOKEN", "text": TOKEN})
    record["secretInputs"] = [*record["secretInputs"], f"bindings[{len(bindings) - 1}].text"]
    bindings.append({"type": "plain_text", "name": "NOTE", "text": "[secret:copied]"})  # lost its mark
    found = only(pack, "CF-SEC-001").analyze_each([record])
    assert found and all(f"bindings[{len(bindings) - 1}]" in d.message for d in found), found


# ---- what the rules see at preview, and in staging -----------------------------------------

def test_an_unknown_value_is_its_own_finding_and_fails_closed(pack, production):
    plan = copy.deepcopy(production)
    setting(plan, "min_tls_version")["value"] = "[unknown]"
    found = [f for f in pack.findings(plan, only="CF-TLS-001") if f.rule_id == "CF-TLS-001"]
    assert found and all(f.unknown and f.mandatory for f in found), report(found)


def test_an_unknown_binding_id_is_resolved_through_its_dependency(pack, production):
    plan = copy.deepcopy(production)
    binding(plan, "project-awareness", "SESSION_STORE")["namespaceId"] = "[unknown]"  # to be created
    assert not pack.findings(plan, only="CF-ENV-001")
    find(plan, "", lambda r: r["type"].endswith(("WorkersScript", "WorkerVersion")) and "project-awareness" in r["name"]
         )["propertyDependencies"]["bindings"] = []
    found = pack.findings(plan, only="CF-ENV-001")
    assert any(f.unknown and f.mandatory for f in found), report(found)


def test_staging_warns_on_production_only_rules_and_still_refuses_production_stores(pack, staging, production):
    plan = copy.deepcopy(staging)
    inputs(plan, "R2BucketCors", "chittyconnect")["rules"][0]["allowed"]["origins"] = ["*"]
    find(plan, "WorkersKvNamespace")["protect"] = False
    assert not pack.findings(plan, only="CF-DATA-001")  # disabled in staging
    cors = pack.findings(plan, only="CF-CORS-001")
    assert {f.enforcement for f in cors} == {"advisory"}
    located_in(pack, plan, cors, "r2Buckets")
    adopted = find(production, "WorkersKvNamespace", lambda r: bool(r["importId"]))["importId"].split("/")[-1]
    binding(plan, "project-awareness", "SESSION_STORE")["namespaceId"] = adopted
    bindings = pack.findings(plan, only="CF-ENV-001")
    assert any(f.mandatory and adopted in f.message for f in bindings)
    located_in(pack, plan, bindings, "services.project-awareness.bindings")


def test_staging_hostnames_never_take_production_ones(pack, staging):
    plan = copy.deepcopy(staging)
    inputs(plan, "WorkersCustomDomain", "connect")["hostname"] = "connect.chitty.cc"
    found = pack.findings(plan, only="CF-ENV-005")
    assert any(f.mandatory and "connect.chitty.cc" in f.message for f in found), report(found)
    located_in(pack, plan, found, "services.chittyconnect.customDomains")


def test_two_stacks_sharing_an_identifier_are_refused(production, staging):
    first, second = from_plan(production, "production"), from_plan(copy.deepcopy(staging), "staging")
    assert not shared_identifiers(first, [], second, [])
    kv = find(production, "WorkersKvNamespace", lambda r: bool(r["importId"]))
    shared = copy.deepcopy(staging)
    find(shared, "WorkersKvNamespace")["importId"] = kv["importId"]
    problems = shared_identifiers(first, [], from_plan(shared, "staging"), [])
    assert any(kv["importId"].split("/")[-1] in p for p in problems), problems


def test_each_committed_policy_config_is_one_the_pulumi_cli_accepts_and_applies(pack):
    """`pulumi preview --policy-pack-config policies/config/<stack>.json` parses each entry as a level or
    an object with an optional level, keeps entries that name no policy and properties no schema has
    (they configure nothing), and fails on such an entry without a level (policy_config.py cites where).
    So in each committed file: every name is a policy of the pack (read through GetAnalyzerInfo, as the
    CLI reads it), every property is in that policy's schema, and the reconciled result validates. The
    gate's own rules are in `<stack>.gate.json`, which names gate rules only."""
    directory = ROOT / "policies" / "config"
    gate_names = {rule.name for rule in GATE_RULES}
    for stack in ("staging", "production"):
        path = policy_config.config_path(stack, directory)
        document = json.loads(path.read_text())
        for name, value in document.items():
            level = value if isinstance(value, str) else value.get("enforcementLevel", "mandatory")
            assert level in policy_config.VALID_LEVELS, f"{path.name}: {name}: {value!r}"
            if name == "all":
                continue
            assert name in pack.policies, f"{path.name}: {name} is no policy of the pack"
            properties = set(value) - {"enforcementLevel"} if isinstance(value, dict) else set()
            assert properties <= set(pack.policies[name].config_schema), f"{path.name}: {name}: {properties}"
        assert policy_config.reconcile(pack.policies.values(), document, str(path)).keys() == pack.policies.keys()
        gate = json.loads(policy_config.gate_config_path(stack, directory).read_text())
        assert set(gate) <= gate_names | {"all"}, f"{stack}.gate.json: {set(gate) - gate_names}"
        assert set(policy_config.gate_levels(stack, directory)) == gate_names


def test_the_gate_refuses_what_the_cli_would_silently_ignore(pack):
    document = policy_config.load("production")
    for extra, expected in [
        ({"stateful-resources-retained": "mandatory"}, "a rule of the gate, not a policy of the pack"),
        ({"zone-min-tls-1-3": {"minTlsVersoin": "1.3"}}, "zone-min-tls-1-3.minTlsVersoin: not a property"),
        ({"zone-min-tls-13": {"requireManagedZone": False}}, "zone-min-tls-13: no such rule here"),
    ]:
        with pytest.raises(policy_config.PolicyConfigError) as error:
            policy_config.reconcile(pack.policies.values(), {**document, **extra}, "production.json")
        assert expected in str(error.value)


def test_a_waiver_needs_a_reason_and_names_a_waivable_clause(pack):
    document = policy_config.load("production")
    document["zone-caa-records"] = {"waivers": {"everything": "because"}}
    with pytest.raises(policy_config.PolicyConfigError) as error:
        policy_config.reconcile(pack.policies.values(), document, "production.json")
    assert "zone-caa-records.waivers" in str(error.value)
    assert StackInput  # the gate's input type is what from_plan builds
