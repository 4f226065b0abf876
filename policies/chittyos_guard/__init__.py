"""The rules of the chittyos-edge policy pack, one module per concern.

Importable as `chittyos_guard` (the pack's `__main__.py`, run by the Pulumi CLI or the gate with
`policies/` as working directory) and as `policies.chittyos_guard` (tests, readiness). It never
imports the program: under the CLI it runs in its own virtualenv. Importing it makes the pack's
decoding keep the engine's secret marks (`_secrets`).
"""

from __future__ import annotations

from . import (
    _secrets, cors, data_protection, dns, firewall, load_balancing, monitoring, r2_storage, secret_values, separation,
    tunnel, workers, zone,
)
from ._rule import Rule

PACK_NAME = "chittyos-edge-readiness"

RULES: list[Rule] = [
    *zone.RULES,
    *dns.RULES,
    *firewall.RULES,
    *separation.RULES,
    *workers.RULES,
    *cors.RULES,
    *secret_values.RULES,
    *data_protection.RULES,
    *r2_storage.RULES,
    *monitoring.RULES,
    *load_balancing.RULES,
    *tunnel.RULES,
]
assert _secrets.SECRET_SIG


def policies() -> list:
    """The pack's CrossGuard policies, in rule order."""
    return [rule.policy() for rule in RULES]


def rule_by_id(rule_id: str) -> Rule:
    return next(rule for rule in RULES if rule.id == rule_id)
