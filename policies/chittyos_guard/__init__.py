"""The rules of the chittyos-edge policy pack, one module per concern.

Importable as `chittyos_guard` (the pack's `__main__.py`, run by the Pulumi CLI or the gate with
`policies/` as working directory) and as `policies.chittyos_guard` (tests, readiness). It never
imports the program: under the CLI it runs in its own virtualenv.
"""

from __future__ import annotations

from . import cors, data_protection, firewall, monitoring, r2_storage, secret_values, separation, tunnel, zone_tls
from ._rule import Rule

PACK_NAME = "chittyos-edge-readiness"

RULES: list[Rule] = [
    *zone_tls.RULES,
    *firewall.RULES,
    *separation.RULES,
    *cors.RULES,
    *secret_values.RULES,
    *data_protection.RULES,
    *r2_storage.RULES,
    *monitoring.RULES,
    *tunnel.RULES,
]


def policies() -> list:
    """The pack's CrossGuard policies, in rule order."""
    return [rule.policy() for rule in RULES]


def rule_by_id(rule_id: str) -> Rule:
    return next(rule for rule in RULES if rule.id == rule_id)
