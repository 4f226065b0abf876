"""Where in the stack file a finding points: the config key it is about, and that key's line.

A finding names a resource (its URN) and a rule. The resource comes from one config entry: the
components name their children `<component>-<role>-<entry>` (see `components/`), so the entry is
read back from the resource's name and its component's type, and checked against the stack file's
keys. The rule then says which key of that entry (or of the stack) the fix changes, as its
remediation does: CF-R2-001 is about `r2Buckets.<entry>.lifecycle`, CF-DATA-001 about
`dataProtection.protect`. A key missing from the file (a default) is located at the nearest key
above it that is there; line and column come from `chittyos_edge.config.stack_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import PROJECT
from .findings import Finding

STACK_FILE = "Pulumi.{stack}.yaml"
_NS = f"{PROJECT}:"

# The key each rule's fix changes, when it is one key of the stack (not of the finding's entry).
RULE_KEYS: dict[str, str] = {
    "CF-TLS-001": "edgeSecurity.tls.minTlsVersion",
    "CF-TLS-002": "edgeSecurity.tls.sslMode",
    "CF-TLS-003": "edgeSecurity.tls.alwaysUseHttps",
    "CF-TLS-004": "edgeSecurity.tls.hsts",
    "CF-WAF-001": "edgeSecurity.managedRulesets",
    "CF-RL-001": "edgeSecurity.rateLimits",
    "CF-DATA-001": "dataProtection.protect",
    "CF-DATA-002": "dataProtection.retainOnDelete",
    "CF-MON-001": "monitoring.healthChecks",
    "CF-MON-002": "monitoring.alerts",
    "CF-TUN-001": "tunnel.ingress",
    "CF-TUN-002": "tunnel.access",
    "CF-TUN-006": "monitoring.alerts",
}
# The key under the finding's entry that each rule's fix changes (entry section -> sub-key).
RULE_SUBKEYS: dict[str, dict[str, str]] = {
    "CF-R2-001": {"r2Buckets": "lifecycle"},
    "CF-CORS-001": {"r2Buckets": "cors"},
    "CF-CORS-002": {"services": "vars"},
    "CF-SEC-001": {"services": "vars"},
    "CF-ENV-001": {"services": "bindings"},
    "CF-DO-001": {"durableObjects": "migrations"},
}

# Per component type: (pattern on the child's name after `<component>-`, the key it comes from).
# `{e}` is an entry of the section named first in the key, matched against the stack file's keys.
_EDGE_SETTINGS = {
    "min-tls-version": "minTlsVersion", "ssl": "sslMode", "always-use-https": "alwaysUseHttps",
    "automatic-https-rewrites": "automaticHttpsRewrites", "http3": "http3", "tls-1-3": "tls13",
    "security-header": "hsts",
}
_CHILDREN: dict[str, list[tuple[str, str]]] = {
    "chittyos:data_stores:DataStores": [("kv-{e}", "kvNamespaces.{e}"), ("queue-{e}", "queues.{e}")],
    "chittyos:document_storage:DocumentStorage": [
        ("d1-{e}-migrations", "d1Databases.{e}"), ("d1-{e}", "d1Databases.{e}"),
        ("bucket-{e}-cors", "r2Buckets.{e}.cors"), ("bucket-{e}-lifecycle", "r2Buckets.{e}.lifecycle"),
        ("bucket-{e}-r2dev", "r2Buckets.{e}"), ("bucket-{e}", "r2Buckets.{e}")],
    "chittyos:secure_tunnel:SecureTunnel": [
        ("dns", "tunnel.hostname"), ("tunnel", "tunnel.name"), ("config", "tunnel.ingress"),
        ("token-{x}", "tunnel.access.serviceTokens"), ("access-app", "tunnel.access"), ("policy-{x}", "tunnel.access")],
    "chittyos:edge_security:EdgeSecurity": [
        *((f"setting-{name}", f"edgeSecurity.tls.{key}") for name, key in _EDGE_SETTINGS.items()),
        ("dnssec", "edgeSecurity.tls.dnssec"), ("waf-custom", "edgeSecurity.wafCustomRules"),
        ("waf-managed", "edgeSecurity.managedRulesets"), ("rate-limits", "edgeSecurity.rateLimits"),
        ("cache-rules", "edgeSecurity.cacheRules"), ("security-headers", "edgeSecurity.securityHeaders")],
    "chittyos:monitoring:Monitoring": [
        ("check-{n}", "monitoring.healthChecks[{n}]"), ("alert-{n}", "monitoring.alerts[{n}]"),
        ("pagerduty", "monitoring.pagerduty"), ("slack", "monitoring.slack")],
    "chittyos:load_balancing:LoadBalancing": [
        ("pool-{e}", "loadBalancing.pools.{e}"), ("monitor", "loadBalancing.monitor"), ("lb", "loadBalancing.hostname")],
}
_SERVICE_ROLES = [("script", ""), ("worker", ""), ("version-{x}", ".code"), ("deployment", ".code"),
                  ("secrets", ".secrets"), ("domain-{x}", ".customDomains"), ("route-dns-{x}", ".routeDnsRecords"),
                  ("route-{x}", ".routes"), ("crons", ".crons"), ("consumer-{x}", ".queueConsumers"),
                  ("workers-dev", ".workersDev")]


@dataclass(frozen=True)
class Location:
    file: str  # the stack file, relative to the project root: "Pulumi.production.yaml"
    key: str  # the key path the finding is about, without the namespace: "edgeSecurity.tls.minTlsVersion"
    line: int | None  # 1-based line of that key (or the nearest key above it that is in the file)
    column: int | None = None


def _tokens(path: str) -> list[str | int]:
    return [int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|\.?([^.\[\]]+)", path)]


def _get(config: dict[str, Any], path: str) -> Any:
    """The value at a key path of the config (namespace stripped), or None."""
    node: Any = config
    for token in _tokens(path):
        if isinstance(token, int):
            node = node[token] if isinstance(node, list) and token < len(node) else None
        else:
            node = node.get(token) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _index_by_name(config: dict[str, Any], section: str, name: str) -> str | None:
    items = _get(config, section)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict) and item.get("name") == name:
                return f"{section}[{index}]"
    return None


def _match(pattern: str, rest: str, key: str, config: dict[str, Any]) -> str | None:
    """The key `rest` (a child name after its component's prefix) comes from, under `pattern`."""
    regex = "^" + re.escape(pattern).replace(r"\{e\}", "(?P<e>.+)").replace(r"\{n\}", "(?P<n>.+)").replace(
        r"\{x\}", ".+") + "$"
    found = re.match(regex, rest)
    if not found:
        return None
    groups = found.groupdict()
    if "e" in groups:
        section = key.split("{e}", 1)[0].rstrip(".")
        entries = _get(config, section)
        if not isinstance(entries, dict) or groups["e"] not in entries:
            return None
        return key.replace("{e}", groups["e"])
    if "n" in groups:
        section = key.split("[", 1)[0]
        return _index_by_name(config, section, groups["n"]) or section
    return key


def entry_key(urn: str, config: dict[str, Any], stack: str) -> str | None:
    """The config key a resource comes from, read from its URN's name and component type."""
    parts = urn.split("::")
    if len(parts) < 4:
        return None
    types, name = parts[2].split("$"), parts[-1]
    component = types[0]  # the top-level component (or the resource itself, directly under the stack)
    if component == "chittyos:durable_objects:DurableObjectHost":
        entry = re.sub(rf"^{re.escape(stack)}-|-objects$", "", name)
        return f"durableObjects.{entry}" if entry in (config.get("durableObjects") or {}) else None
    if component == "chittyos:worker_service:WorkerService":
        for service in sorted(config.get("services") or {}, key=len, reverse=True):
            prefix = f"{stack}-{service}"
            if name == prefix:
                return f"services.{service}"
            if name.startswith(prefix + "-"):
                rest = name[len(prefix) + 1:]
                for pattern, suffix in _SERVICE_ROLES:
                    if _match(pattern, rest, "x", config):
                        return f"services.{service}{suffix}"
        return None
    prefixes = {"chittyos:data_stores:DataStores": "data", "chittyos:document_storage:DocumentStorage": "storage",
                "chittyos:secure_tunnel:SecureTunnel": "tunnel", "chittyos:edge_security:EdgeSecurity": "edge-security",
                "chittyos:monitoring:Monitoring": "monitoring", "chittyos:load_balancing:LoadBalancing": "load-balancing"}
    prefix = f"{stack}-{prefixes.get(component, '')}"
    if component not in _CHILDREN or not name.startswith(prefix):
        return None
    if name == prefix:
        return _CHILDREN[component][0][1].split(".", 1)[0]
    rest = name[len(prefix) + 1:]
    for pattern, key in _CHILDREN[component]:
        found = _match(pattern, rest, key, config)
        if found:
            return found
    return None


def _names_in(message: str, stack: str) -> Iterable[str]:
    return re.findall(rf"\b{re.escape(stack)}-[a-z0-9-]+[a-z0-9]", message)


def key_of(finding: Finding, config: dict[str, Any], stack: str, urns: dict[str, str]) -> str:
    """The key path a finding is about (namespace stripped); "" for the stack file as a whole."""
    entry = entry_key(finding.urn, config, stack) if finding.urn else None
    if entry is None:
        # Stack-wide findings (CF-ENV-003, a missing rule) name their resources in the message.
        for name in _names_in(finding.message, stack):
            if name in urns:
                entry = entry_key(urns[name], config, stack)
                if entry:
                    break
    if finding.rule_id in RULE_KEYS:
        return RULE_KEYS[finding.rule_id]
    section = entry.split(".", 1)[0] if entry else ""
    sub = RULE_SUBKEYS.get(finding.rule_id, {}).get(section)
    if entry and sub:
        top = ".".join(entry.split(".")[:2])
        return f"{top}.{sub}"
    if finding.rule_id == "CF-DO-001" and entry and section == "services":
        service = entry.split(".")[1]
        for host, settings in (config.get("durableObjects") or {}).items():
            if isinstance(settings, dict) and settings.get("hostService") == service:
                return f"durableObjects.{host}.migrations"
    return entry or ""


PositionOf = Callable[[str], "tuple[int, int] | None"]


def stack_file_positions(path: Path) -> PositionOf | None:
    """`position_of(key_path)` -> (line, column) of a stack file, or None when it cannot be read."""
    from ..config.stack_file import load_stack_file

    try:
        document = load_stack_file(path)
    except Exception:  # noqa: BLE001 - a location is a convenience: a file that fails here fails elsewhere
        return None
    return document.position_of


def nearest_position(position_of: PositionOf | None, key: str) -> tuple[int, int] | None:
    """(line, column) of `key` (namespace stripped), or of the nearest key above it in the file."""
    if position_of is None or not key:
        return None
    tokens = _tokens(key)
    path = _NS + "".join(f"[{t}]" if isinstance(t, int) else (f".{t}" if i else t) for i, t in enumerate(tokens))
    return position_of(path)


def locate(findings: Iterable[Finding], plans: dict[str, list[dict[str, Any]]], project_root: Path,
           configs: dict[str, dict[str, Any]] | None = None) -> dict[Finding, Location]:
    """A location for each finding: stack file, key path, line. `plans` maps a stack to its resource
    records (for names in URN-less findings); `configs` to its config (read from the file if absent)."""
    import yaml

    located: dict[Finding, Location] = {}
    cache: dict[str, tuple[dict[str, Any], PositionOf | None]] = {}
    for finding in findings:
        stack = finding.stack.split("+")[-1]
        if stack not in cache:
            path = project_root / STACK_FILE.format(stack=stack)
            config = (configs or {}).get(stack)
            if config is None:
                try:
                    document = yaml.safe_load(path.read_text()) or {}
                    raw = document.get("config") or {}
                except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
                    raw = {}
                config = {k[len(_NS):]: v for k, v in raw.items() if isinstance(k, str) and k.startswith(_NS)}
            cache[stack] = (config, stack_file_positions(path))
        config, position_of = cache[stack]
        urns = {r["name"]: r["urn"] for r in plans.get(stack, [])}
        key = key_of(finding, config, stack, urns)
        line, column = nearest_position(position_of, key) or (None, None)
        located[finding] = Location(STACK_FILE.format(stack=stack), key, line, column)
    return located
