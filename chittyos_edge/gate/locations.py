"""Where in the stack file a finding points: the config key it is about, and that key's line.

A finding names a resource (its URN) and a rule. The resource comes from one config entry: the
components name their children `<component>-<role>-<entry>` (see `components/`), so the entry is
read back from the resource's name and its component's type, and checked against the stack file's
keys. The rule says which key its fix changes: each rule declares it next to its check (`key=` of
`policies/chittyos_guard/_rule.Rule`, sent as a `key:<path>` tag through `GetAnalyzerInfo`; `key` of
the gate's own rules), e.g. `dataProtection.protect`, or `r2Buckets.<entry>.lifecycle` under the
finding's entry. A key missing from the file (a default) is located at the nearest key above it that
is there; line and column come from `chittyos_edge.config.stack_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from policies.chittyos_guard._rule import ENTRY

from .. import PROJECT
from .findings import Finding

STACK_FILE = "Pulumi.{stack}.yaml"
_NS = f"{PROJECT}:"
# Every stack file has it near the top: where a finding whose key is in no part of the file points.
TOP_KEY = "environment"

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
_SERVICE_ROLES = [("script", ""), ("worker", ""), ("version-canary", ".canary.code"), ("version-{x}", ".code"),
                  ("deployment", ".code"),
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


def _related(a: str, b: str) -> bool:
    """One key path is the other or lies under it."""
    return a == b or any(longer.startswith(shorter + sep) for longer, shorter in ((a, b), (b, a)) for sep in ".[")


def _name_in(section: str, entry: str, config: dict[str, Any]) -> str | None:
    """The name, under `section`, of the entry `entry` is (or is under), or of the entry of `section`
    that names it (a Durable Object host names its Worker: `hostService: project-awareness`)."""
    if entry.startswith(section + "."):
        found = re.match(r"[^.\[]+", entry[len(section) + 1:])
        return found.group() if found else None
    parts = _tokens(entry)
    entries = _get(config, section)
    if len(parts) >= 2 and isinstance(parts[1], str) and isinstance(entries, dict):
        return next((name for name, settings in entries.items() if isinstance(settings, dict)
                     and parts[1] in settings.values()), None)
    return None


def resolve_key(keys: Sequence[str], entry: str, config: dict[str, Any]) -> str:
    """The key a finding is about, from its rule's keys and its resource's config entry (or "").

    Each key is a path, or one under an entry (`r2Buckets.<entry>.lifecycle`, `<entry>` alone: the
    entry). The first key that concerns the resource wins (the entry, or a key under it, the more
    specific of the two); else the first key that resolves; else the section above `<entry>`."""
    candidates = []
    for key in keys:
        if ENTRY not in key:
            candidates.append(key)
            continue
        section, _, sub = key.partition(ENTRY)
        section, sub = section.rstrip("."), sub.lstrip(".")
        if not section:
            if entry:
                candidates.append(entry)
            continue
        name = _name_in(section, entry, config) if entry else None
        if name is not None:
            candidates.append(".".join(part for part in (section, name, sub) if part))
    for candidate in candidates:
        if entry and _related(candidate, entry):
            return max(candidate, entry, key=len)
    if candidates:
        return candidates[0]
    return next((key.partition(ENTRY)[0].rstrip(".") for key in keys if key.partition(ENTRY)[0]), "")


def key_of(finding: Finding, config: dict[str, Any], stack: str, urns: dict[str, str],
           keys: Sequence[str] = ()) -> str:
    """The key path a finding is about (namespace stripped); "" when neither rule nor resource says."""
    entry = entry_key(finding.urn, config, stack) if finding.urn else None
    if entry is None:
        # Stack-wide findings (CF-ENV-003, a missing rule) name their resources in the message.
        for name in _names_in(finding.message, stack):
            if name in urns:
                entry = entry_key(urns[name], config, stack)
                if entry:
                    break
    return resolve_key(keys, entry or "", config) if keys else entry or ""


PositionOf = Callable[[str], "tuple[int, int] | None"]


def stack_file_positions(path: Path) -> PositionOf | None:
    """`position_of(key_path)` -> (line, column) of a stack file, or None when it cannot be read."""
    return _read(path)[1]


def _read(path: Path) -> tuple[dict[str, Any], PositionOf | None]:
    """A stack file's config (namespace stripped) and its `position_of`; ({}, None) when it cannot be read."""
    from ..config.stack_file import load_stack_file

    try:
        document = load_stack_file(path)
    except Exception:  # noqa: BLE001 - a location is a convenience: a file that fails here fails elsewhere
        return {}, None
    config = {k[len(_NS):]: v for k, v in document.config.items() if k.startswith(_NS)}
    return config, document.position_of


def nearest_position(position_of: PositionOf | None, key: str) -> tuple[int, int] | None:
    """(line, column) of `key` (namespace stripped), or of the nearest key above it in the file."""
    if position_of is None or not key:
        return None
    tokens = _tokens(key)
    path = _NS + "".join(f"[{t}]" if isinstance(t, int) else (f".{t}" if i else t) for i, t in enumerate(tokens))
    return position_of(path)


def locate(findings: Iterable[Finding], plans: dict[str, list[dict[str, Any]]], project_root: Path,
           keys: Mapping[str, Sequence[str]] | None = None) -> dict[Finding, Location]:
    """A location for each finding: stack file, key path, line. `plans` maps a stack to its resource
    records (for names in URN-less findings); `keys` a rule id to the keys its fix changes
    (`PolicyInfo.keys`, `GateRule.keys`). A key in no part of the file (a section this stack does not
    declare) is located at the top of its config."""
    located: dict[Finding, Location] = {}
    stacks: dict[str, tuple[dict[str, Any], PositionOf | None, dict[str, str]]] = {}
    for finding in findings:
        stack = finding.stack.split("+")[-1]
        if stack not in stacks:
            config, position_of = _read(project_root / STACK_FILE.format(stack=stack))
            stacks[stack] = (config, position_of, {r["name"]: r["urn"] for r in plans.get(stack, [])})
        config, position_of, urns = stacks[stack]
        key = key_of(finding, config, stack, urns, (keys or {}).get(finding.rule_id, ()))
        line, column = (nearest_position(position_of, key) or nearest_position(position_of, TOP_KEY)
                        or (None, None))
        located[finding] = Location(STACK_FILE.format(stack=stack), key, line, column)
    return located
