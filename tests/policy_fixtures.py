"""Fixtures for the policy pack: one compliant stack of resource records, and per rule the
one-field changes that must break it (AWSGuard style: build a passing resource with a factory,
change one field per case, assert on the violation).

Records have the plan's shape and wire names (camelCase inputs, as `chittyos-edge plan` writes
them), so they go through the gate exactly like a real plan: inputs to Analyze, the mocks'
outputs to AnalyzeStack.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from chittyos_edge.gate.sources import plan_outputs

T = {
    "zs": "cloudflare:index/zoneSetting:ZoneSetting",
    "ruleset": "cloudflare:index/ruleset:Ruleset",
    "kv": "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
    "r2": "cloudflare:index/r2Bucket:R2Bucket",
    "lifecycle": "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle",
    "cors": "cloudflare:index/r2BucketCors:R2BucketCors",
    "r2dev": "cloudflare:index/r2ManagedDomain:R2ManagedDomain",
    "d1": "cloudflare:index/d1Database:D1Database",
    "queue": "cloudflare:index/queue:Queue",
    "consumer": "cloudflare:index/queueConsumer:QueueConsumer",
    "script": "cloudflare:index/workersScript:WorkersScript",
    "domain": "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
    "tunnel": "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared",
    "tunnel_config": "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
    "access_app": "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication",
    "dns": "cloudflare:index/dnsRecord:DnsRecord",
    "hc": "cloudflare:index/healthcheck:Healthcheck",
    "notify": "cloudflare:index/notificationPolicy:NotificationPolicy",
}
ACCOUNT = "0bc21e3a5a9de1a4cc843be9c3e98121"
ZONE = "ef5036f0bbd10b1e49d3f165702d8880"
ADOPTED_KV = "ea43bc974b894701a069e4804be765ba"  # IDEMP_KV, in production's allowedLiteralIds
CLOUDFLARE_MANAGED = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE = "4814384a9e5d4991b9815dcfc25d2f1f"


class Stack:
    """A list of plan records with helpers to find and change them by short name."""

    def __init__(self, env: str):
        self.env = env
        self.project = "chittyos-edge"
        self.root = f"urn:pulumi:{env}::chittyos-edge::pulumi:pulumi:Stack::chittyos-edge-{env}"
        self.records: list[dict[str, Any]] = [self._record("pulumi:pulumi:Stack", f"chittyos-edge-{env}", {},
                                                           custom=False, parent=None, urn=self.root)]

    def _record(self, typ: str, name: str, inputs: dict[str, Any], *, custom: bool = True,
                parent: str | None = "root", urn: str | None = None) -> dict[str, Any]:
        return {
            "urn": urn or f"urn:pulumi:{self.env}::chittyos-edge::{typ}::{name}", "type": typ, "name": name,
            "parent": self.root if parent == "root" else parent, "custom": custom, "inputs": inputs,
            "dependencies": [], "propertyDependencies": {}, "protect": False, "retainOnDelete": False,
            "deleteBeforeReplace": False, "importId": None, "secretInputs": [],
        }

    def add(self, short: str, name: str, inputs: dict[str, Any], *, stateful: bool = False,
            depends: dict[str, list[str]] | None = None, import_id: str | None = None) -> dict[str, Any]:
        record = self._record(T[short], f"{self.env}-{name}", inputs)
        if stateful and self.env == "production":
            record["protect"] = record["retainOnDelete"] = True
        record["importId"] = import_id
        for prop, names in (depends or {}).items():
            urns = [self.get(n)["urn"] for n in names]
            record["propertyDependencies"][prop] = urns
            record["dependencies"] = sorted(set(record["dependencies"]) | set(urns))
        self.records.append(record)
        return record

    def get(self, name: str) -> dict[str, Any]:
        full = f"{self.env}-{name}"
        return next(r for r in self.records if r["name"] == full)

    def id_of(self, name: str) -> str:
        return plan_outputs(self.get(name))["id"]

    def remove(self, name: str) -> None:
        self.records.remove(self.get(name))

    def copy(self) -> "Stack":
        return copy.deepcopy(self)


def compliant_stack(env: str = "production") -> Stack:
    """Every rule of the pack passes on this stack (checked by the meta-test)."""
    s = Stack(env)
    sfx = f"-{env}"
    owns_zone = env == "production"
    if owns_zone:
        for setting, value in {"min_tls_version": "1.3", "ssl": "strict", "always_use_https": "on"}.items():
            s.add("zs", f"setting-{setting}", {"zoneId": ZONE, "settingId": setting, "value": value})
        s.add("zs", "setting-security_header", {"zoneId": ZONE, "settingId": "security_header", "value": {
            "strict_transport_security": {"enabled": True, "max_age": 31536000, "include_subdomains": True,
                                          "preload": True, "nosniff": True}}})
        s.add("ruleset", "waf-managed", {"zoneId": ZONE, "kind": "zone", "name": "managed", "phase":
                                         "http_request_firewall_managed", "rules": [
            {"action": "execute", "actionParameters": {"id": CLOUDFLARE_MANAGED}, "enabled": True,
             "expression": "true", "ref": "cloudflare_managed"},
            {"action": "execute", "actionParameters": {"id": OWASP_CORE, "overrides": {"categories": [
                {"category": "paranoia-level-4", "enabled": False}]}}, "enabled": True, "expression": "true",
             "ref": "owasp_core"}]})
        s.add("ruleset", "rate-limits", {"zoneId": ZONE, "kind": "zone", "name": "rate limits", "phase": "http_ratelimit",
                                         "rules": [{
            "action": "block", "enabled": True, "ref": "auth_endpoints",
            "expression": '(starts_with(http.request.uri.path, "/api/auth/"))',
            "ratelimit": {"characteristics": ["cf.colo.id", "ip.src"], "period": 60, "requestsPerPeriod": 60,
                          "mitigationTimeout": 600}}]})
    s.add("kv", "kv-sessions", {"accountId": ACCOUNT, "title": f"sessions{sfx}"}, stateful=True)
    if env == "production":
        s.add("kv", "kv-idempotency", {"accountId": ACCOUNT, "title": "IDEMP_KV"}, stateful=True,
              import_id=f"{ACCOUNT}/{ADOPTED_KV}")
    s.add("r2", "bucket-documents", {"accountId": ACCOUNT, "name": f"documents{sfx}", "location": "enam"},
          stateful=True)
    s.add("lifecycle", "bucket-documents-lifecycle", {
        "accountId": ACCOUNT, "bucketName": f"documents{sfx}", "rules": [{
            "id": "expire", "enabled": True, "conditions": {"prefix": ""},
            "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 90 * 86400}}}]},
        depends={"bucketName": ["bucket-documents"]})
    s.add("cors", "bucket-documents-cors", {"accountId": ACCOUNT, "bucketName": f"documents{sfx}", "rules": [{
        "id": "web", "allowed": {"methods": ["GET"], "origins": ["https://connect.chitty.cc"]}}]},
        depends={"bucketName": ["bucket-documents"]})
    s.add("r2dev", "bucket-documents-r2dev", {"accountId": ACCOUNT, "bucketName": f"documents{sfx}", "enabled": False},
          depends={"bucketName": ["bucket-documents"]})
    s.add("d1", "d1-main", {"accountId": ACCOUNT, "name": f"main{sfx}"}, stateful=True)
    s.add("queue", "queue-events", {"accountId": ACCOUNT, "queueName": f"events{sfx}"}, stateful=True)
    s.add("queue", "queue-events-dlq", {"accountId": ACCOUNT, "queueName": f"events-dlq{sfx}"}, stateful=True)

    bindings = [
        {"type": "plain_text", "name": "ENVIRONMENT", "text": env},
        {"type": "plain_text", "name": "CORS_ORIGIN", "text": "https://connect.chitty.cc,https://chitty.cc"},
        {"type": "secret_text", "name": "API_TOKEN", "text": "[secret:workerSecrets.api.API_TOKEN]"},
        {"type": "kv_namespace", "name": "SESSIONS", "namespaceId": s.id_of("kv-sessions")},
        {"type": "r2_bucket", "name": "DOCUMENTS", "bucketName": f"documents{sfx}"},
        {"type": "d1", "name": "DB", "id": s.id_of("d1-main")},
        {"type": "queue", "name": "EVENTS", "queueName": f"events{sfx}"},
    ]
    depends = ["kv-sessions", "bucket-documents", "d1-main", "queue-events"]
    if env == "production":
        bindings.append({"type": "kv_namespace", "name": "IDEMP_KV", "namespaceId": ADOPTED_KV})
        depends.append("kv-idempotency")
    script = s.add("script", "api-script", {
        "accountId": ACCOUNT, "scriptName": f"api{sfx}", "mainModule": "worker.mjs", "compatibilityDate": "2025-01-01",
        "bindings": bindings, "migrations": {"steps": [{"newTag": "v1", "newSqliteClasses": ["SessionStateDO"]}]},
    }, stateful=True, depends={"bindings": depends})
    script["secretInputs"] = ["bindings[2].text"]
    s.add("consumer", "api-consumer", {"accountId": ACCOUNT, "queueId": s.id_of("queue-events"), "type": "worker",
                                       "scriptName": f"api{sfx}", "deadLetterQueue": f"events-dlq{sfx}"},
          depends={"queueId": ["queue-events"], "deadLetterQueue": ["queue-events-dlq"]})
    host = "connect.chitty.cc" if env == "production" else "connect-staging.chitty.cc"
    s.add("domain", "api-domain", {"accountId": ACCOUNT, "hostname": host, "service": f"api{sfx}", "zoneId": ZONE},
          depends={"service": ["api-script"]})

    vault = "1password-connect.chitty.cc" if env == "production" else "1password-connect-staging.chitty.cc"
    s.add("tunnel", "tunnel", {"accountId": ACCOUNT, "name": f"1password-connect{sfx}", "configSrc": "cloudflare"})
    s.add("access_app", "access-app", {
        "accountId": ACCOUNT, "name": f"1password-connect{sfx}", "type": "self_hosted", "domain": vault,
        "destinations": [{"type": "public", "uri": vault}], "policies": [{"id": "a" * 32, "precedence": 1}]})
    s.add("tunnel_config", "tunnel-config", {"accountId": ACCOUNT, "tunnelId": s.id_of("tunnel"), "config": {
        "ingresses": [{"hostname": vault, "service": "http://nginx-proxy:80"}, {"service": "http_status:404"}]}},
        depends={"tunnelId": ["tunnel"]})
    s.add("dns", "tunnel-dns", {"zoneId": ZONE, "name": vault, "type": "CNAME", "ttl": 1, "proxied": True,
                                "content": f"{s.id_of('tunnel')}.cfargotunnel.com"}, depends={"content": ["tunnel"]})

    for check_host, name in ((host, "check-api"), (vault, "check-vault")):
        s.add("hc", name, {"zoneId": ZONE, "name": f"{name}{sfx}", "address": check_host, "type": "HTTPS",
                           "httpConfig": {"path": "/health", "expectedCodes": ["200"],
                                          "header": {"Host": [check_host]}}})
    s.add("notify", "alert-service-down", {
        "accountId": ACCOUNT, "name": f"service-down{sfx}", "alertType": "health_check_status_notification",
        "enabled": True, "mechanisms": {"webhooks": [{"id": "b" * 32}]},
        "filters": {"healthCheckIds": [s.id_of("check-api"), s.id_of("check-vault")], "statuses": ["Unhealthy"]}},
        depends={"filters": ["check-api", "check-vault"]})
    return s


# ---- one-field changes that must break each rule -------------------------------------------

Mutation = Callable[[Stack], None]


def _setting(name: str, value: Any) -> Mutation:
    def mutate(s: Stack) -> None:
        s.get(f"setting-{name}")["inputs"]["value"] = value
    return mutate


def _remove(name: str) -> Mutation:
    return lambda s: s.remove(name)


def _hsts(key: str, value: Any) -> Mutation:
    def mutate(s: Stack) -> None:
        s.get("setting-security_header")["inputs"]["value"]["strict_transport_security"][key] = value
    return mutate


def _binding(name: str, key: str, value: Any) -> Mutation:
    def mutate(s: Stack) -> None:
        binding = next(b for b in s.get("api-script")["inputs"]["bindings"] if b["name"] == name)
        binding[key] = value
    return mutate


def _add_binding(binding: dict[str, Any]) -> Mutation:
    return lambda s: s.get("api-script")["inputs"]["bindings"].append(binding)


def _set(name: str, path: str, value: Any) -> Mutation:
    def mutate(s: Stack) -> None:
        node = s.get(name)["inputs"]
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value
    return mutate


def _unprotect(name: str) -> Mutation:
    def mutate(s: Stack) -> None:
        s.get(name)["protect"] = False
    return mutate


def _no_retain(name: str) -> Mutation:
    def mutate(s: Stack) -> None:
        s.get(name)["retainOnDelete"] = False
    return mutate


# rule id -> [(what the case breaks, mutation, expected fragment of the message)]
FAILING: dict[str, list[tuple[str, Mutation, str]]] = {
    "CF-TLS-001": [("min TLS 1.2", _setting("min_tls_version", "1.2"), "'1.2'"),
                   ("setting removed", _remove("setting-min_tls_version"), "no ZoneSetting 'min_tls_version'")],
    "CF-TLS-002": [("ssl full", _setting("ssl", "full"), "'full'"),
                   ("setting removed", _remove("setting-ssl"), "no ZoneSetting 'ssl'")],
    "CF-TLS-003": [("always_use_https off", _setting("always_use_https", "off"), "'off'")],
    "CF-TLS-004": [("max_age one day", _hsts("max_age", 86400), "max_age is 86400"),
                   ("no preload", _hsts("preload", False), "preload must be true"),
                   ("no subdomains", _hsts("include_subdomains", False), "include_subdomains"),
                   ("camelCase keys", _setting("security_header", {"strictTransportSecurity": {"enabled": True}}),
                    "camelCase")],
    "CF-WAF-001": [("OWASP removed", lambda s: s.get("waf-managed")["inputs"]["rules"].pop(), OWASP_CORE),
                   ("managed rule disabled", _set("waf-managed", "rules.0.enabled", False), CLOUDFLARE_MANAGED),
                   ("ruleset removed", _remove("waf-managed"), "no http_request_firewall_managed")],
    "CF-RL-001": [("auth rule removed", _remove("rate-limits"), "/api/auth/"),
                  ("counts per colo only", _set("rate-limits", "rules.0.ratelimit.characteristics", ["cf.colo.id"]),
                   "not per client"),
                  ("log only", _set("rate-limits", "rules.0.action", "log"), "does not stop clients"),
                  ("too generous", _set("rate-limits", "rules.0.ratelimit.requestsPerPeriod", 5000), "above 100")],
    "CF-ENV-001": [("staging KV id in production", _binding("SESSIONS", "namespaceId", "f" * 32),
                    "not in this stack's allowedLiteralIds"),
                   ("staging bucket", _binding("DOCUMENTS", "bucketName", "documents-staging"), "documents-staging"),
                   ("staging queue", _binding("EVENTS", "queueName", "events-staging"), "events-staging"),
                   ("consumer on a foreign queue", _set("api-consumer", "queueId", "e" * 32), "QueueConsumer")],
    "CF-ENV-002": [("KV without environment", _set("kv-sessions", "title", "sessions"), "'sessions'"),
                   ("bucket of staging", _set("bucket-documents", "name", "documents-staging"), "documents-staging")],
    "CF-CORS-001": [("wildcard origin", _set("bucket-documents-cors", "rules.0.allowed.origins", ["*"]), "['*']")],
    "CF-CORS-002": [("wildcard CORS var", _binding("CORS_ORIGIN", "text", "https://chitty.cc,*"), "CORS_ORIGIN"),
                    ("Access app allows every origin", _set("access-app", "corsHeaders", {"allowAllOrigins": True}),
                     "every origin")],
    "CF-SEC-001": [("token in a var", _add_binding({"type": "plain_text", "name": "CHITTY_ID_TOKEN", "text": "x"}),
                    "CHITTY_ID_TOKEN"),
                   ("credential-looking value", _add_binding({"type": "plain_text", "name": "UPSTREAM",
                                                               "text": "ghp_" + "a" * 36}), "credential")],
    "CF-DATA-001": [("KV not protected", _unprotect("kv-sessions"), "not protected"),
                    ("DO host not protected", _unprotect("api-script"), "Durable Object host")],
    "CF-DO-001": [("class deleted", _set("api-script", "migrations.steps", [
        {"newTag": "v1", "newSqliteClasses": ["SessionStateDO", "OldDO"]}, {"newTag": "v2", "deletedClasses": ["OldDO"]}]),
        "OldDO")],
    "CF-R2-001": [("lifecycle removed", _remove("bucket-documents-lifecycle"), "no R2BucketLifecycle"),
                  ("lifecycle rule disabled", _set("bucket-documents-lifecycle", "rules.0.enabled", False),
                   "no enabled rule")],
    "CF-R2-002": [("r2.dev on", _set("bucket-documents-r2dev", "enabled", True), "r2.dev")],
    "CF-MON-001": [("health check removed", _remove("check-api"), "connect.chitty.cc")],
    "CF-MON-002": [("alert removed", _remove("alert-service-down"), "no enabled"),
                   ("alert without destination", _set("alert-service-down", "mechanisms", {}), "no enabled")],
    "CF-TUN-001": [("no catch-all", lambda s: s.get("tunnel-config")["inputs"]["config"]["ingresses"].pop(),
                    "catch-all"),
                   ("catch-all forwards to origin", _set("tunnel-config", "config.ingresses.1.service",
                                                         "http://nginx-proxy:80"), "http_status:404")],
    "CF-TUN-002": [("Access app removed", _remove("access-app"), "not behind"),
                   ("Access app without policy", _set("access-app", "policies", []), "not behind")],
    "CF-DATA-002": [("KV not retained", _no_retain("kv-sessions"), "not retainOnDelete")],
    # inventory/production.yaml records the running Worker `chittyconnect`
    "CF-ENV-004": [("creates the running Worker", _set("api-script", "scriptName", "chittyconnect"),
                    "Worker chittyconnect already runs")],
}


def broken(rule_id: str, index: int, env: str = "production") -> Stack:
    stack = compliant_stack(env)
    FAILING[rule_id][index][1](stack)
    return stack


# CF-ENV-003 needs two stacks: changes to the compliant staging stack that make it share an
# identifier with the compliant production stack.
def _adopt_production_kv(s: Stack) -> None:
    kv = s.get("kv-sessions")
    kv["importId"] = f"{ACCOUNT}/{ADOPTED_KV}"


SHARED: dict[str, list[tuple[str, Mutation, str]]] = {
    "CF-ENV-003": [("staging adopts production's KV", _adopt_production_kv, ADOPTED_KV),
                   ("staging binds production's bucket", _binding("DOCUMENTS", "bucketName", "documents-production"),
                    "documents-production")],
}
