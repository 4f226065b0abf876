"""The policy pack, rule by rule: a compliant stack passes, each one-field change is flagged.

Every case runs through the real pack process and the Analyzer protocol (the gate's client), so
the policies' code runs exactly as under `pulumi preview --policy-pack policies`.
"""

from __future__ import annotations

import re

import pytest

from chittyos_edge.gate.client import PolicyPackProcess
from chittyos_edge.gate.findings import Finding
from chittyos_edge.gate.gate_rules import GATE_RULES
from chittyos_edge.gate.readiness import checklist_keys
from chittyos_edge.gate.runner import Gate
from chittyos_edge.gate.sources import from_plan
from policy_fixtures import FAILING, SHARED, Stack, broken, compliant_stack

RULE_ID = re.compile(r"^CF-[A-Z0-9]+-\d{3}$")


@pytest.fixture(scope="module")
def gate():
    with PolicyPackProcess("chittyos-edge", "production") as pack:
        yield Gate(pack)


def run(gate: Gate, stack: Stack) -> list[Finding]:
    plan = {"formatVersion": 1, "project": "chittyos-edge", "stack": stack.env, "resources": stack.records,
            "outputs": {}}
    return gate.check(from_plan(plan, f"fixture {stack.env}"))


def assert_no_violations(findings: list[Finding], rule_id: str | None = None) -> None:
    found = [f for f in findings if rule_id is None or f.rule_id == rule_id]
    assert not found, "unexpected findings:\n" + "\n".join(f"{f.rule_id} {f.resource}: {f.message}" for f in found)


def assert_has_violation(findings: list[Finding], rule_id: str, fragment: str, level: str = "mandatory") -> None:
    mine = [f for f in findings if f.rule_id == rule_id]
    assert any(fragment in f.message and f.enforcement == level for f in mine), (
        f"expected a {level} {rule_id} finding mentioning {fragment!r}; got:\n"
        + "\n".join(f"{f.enforcement} {f.rule_id} {f.resource}: {f.message}" for f in findings))


@pytest.mark.parametrize("env", ["production", "staging"])
def test_the_compliant_stack_passes_every_rule(gate, env):
    assert_no_violations(run(gate, compliant_stack(env)))


CASES = [(rule_id, index, what) for rule_id, cases in FAILING.items() for index, (what, _, _) in enumerate(cases)]


@pytest.mark.parametrize("rule_id,index,what", CASES, ids=[f"{r}-{w}" for r, _, w in CASES])
def test_each_change_is_flagged_by_its_rule(gate, rule_id, index, what):
    fragment = FAILING[rule_id][index][2]
    assert_has_violation(run(gate, broken(rule_id, index)), rule_id, fragment)


def test_every_rule_carries_id_severity_remediation_checklist_and_fixtures(gate):
    pack_rules = [p for p in gate.policies.values()]
    assert len(pack_rules) >= 19
    keys = checklist_keys()
    ids = [p.rule_id for p in pack_rules] + [r.id for r in GATE_RULES]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for policy in pack_rules:
        assert RULE_ID.match(policy.rule_id), policy.name
        assert policy.description.startswith(f"{policy.rule_id}: "), policy.name
        assert policy.severity in ("low", "medium", "high", "critical"), policy.name
        assert len(policy.remediation) > 30, policy.name
        assert policy.checklist in keys, f"{policy.name}: {policy.checklist!r} is not a checklist item"
    for rule in GATE_RULES:
        assert RULE_ID.match(rule.id) and rule.severity and rule.remediation and rule.checklist in keys
    # at least one failing fixture per rule; the passing one is the compliant stack (tested above)
    # CF-DATA-003 judges a change between two plans: its failing cases are in tests/test_diff.py.
    covered = set(FAILING) | set(SHARED) | {"CF-DATA-003"}
    assert set(ids) <= covered, f"rules without a failing fixture: {sorted(set(ids) - covered)}"


def test_staging_reports_production_only_rules_as_advisory(gate):
    stack = compliant_stack("staging")
    stack.get("bucket-documents-cors")["inputs"]["rules"][0]["allowed"]["origins"] = ["*"]
    stack.get("kv-sessions")["protect"] = False
    findings = run(gate, stack)
    assert_has_violation(findings, "CF-CORS-001", "['*']", level="advisory")
    assert_no_violations(findings, "CF-DATA-001")  # disabled in staging (policies/config/staging.json)


def test_staging_still_refuses_production_resources(gate):
    stack = compliant_stack("staging")
    next(b for b in stack.get("api-script")["inputs"]["bindings"] if b["name"] == "SESSIONS")["namespaceId"] = (
        "ea43bc974b894701a069e4804be765ba")  # production's adopted IDEMP_KV
    assert_has_violation(run(gate, stack), "CF-ENV-001", "ea43bc974b894701a069e4804be765ba")


def test_an_unknown_value_is_its_own_finding_and_fails_closed_in_production(gate):
    stack = compliant_stack("production")
    stack.get("setting-min_tls_version")["inputs"]["value"] = "[unknown]"
    stack.get("bucket-documents-cors")["inputs"]["rules"][0]["allowed"]["origins"] = "[unknown]"
    findings = run(gate, stack)
    assert_has_violation(findings, "CF-TLS-001", "[unknown at preview]")
    assert_has_violation(findings, "CF-CORS-001", "[unknown at preview]")
    assert all(f.unknown for f in findings if f.rule_id in ("CF-TLS-001", "CF-CORS-001"))


def test_an_unknown_binding_id_is_resolved_through_its_dependency(gate):
    stack = compliant_stack("production")
    binding = next(b for b in stack.get("api-script")["inputs"]["bindings"] if b["name"] == "SESSIONS")
    binding["namespaceId"] = "[unknown]"  # a namespace still to be created, as at preview
    assert_no_violations(run(gate, stack), "CF-ENV-001")
    stack.get("api-script")["propertyDependencies"]["bindings"] = []  # nothing explains the unknown id
    assert_has_violation(run(gate, stack), "CF-ENV-001", "[unknown at preview]")


def test_an_adopted_resource_keeps_its_name_only_with_its_id_listed(gate):
    stack = compliant_stack("production")
    assert_no_violations(run(gate, stack), "CF-ENV-002")  # IDEMP_KV, id in allowedLiteralIds
    stack.get("kv-idempotency")["importId"] = "0bc21e3a5a9de1a4cc843be9c3e98121/" + "c" * 32
    assert_has_violation(run(gate, stack), "CF-ENV-002", "'IDEMP_KV'")


def _inputs(stack: Stack):
    plan = {"formatVersion": 1, "project": "chittyos-edge", "stack": stack.env, "resources": stack.records,
            "outputs": {}}
    return from_plan(plan, f"fixture {stack.env}")


@pytest.mark.parametrize("index", range(len(SHARED["CF-ENV-003"])))
def test_two_stacks_sharing_an_identifier_are_flagged(gate, index):
    production = _inputs(compliant_stack("production"))
    staging = compliant_stack("staging")
    gate.check(production)
    gate.check(_inputs(staging))
    assert_no_violations(gate.cross_check(production, _inputs(staging)))
    what, mutate, fragment = SHARED["CF-ENV-003"][index]
    mutate(staging)
    shared = _inputs(staging)
    gate.check(shared)
    assert_has_violation(gate.cross_check(production, shared), "CF-ENV-003", fragment)
